"""Errors of the evidence package; library exceptions are translated into these."""

from __future__ import annotations

from errors import HeroesError


class EvidenceError(HeroesError):
    """An evidence log, heads file or export cannot be read or written."""


class KeyMissing(EvidenceError):
    """No signing key where the settings say; the message says how to make one."""


class KeyInvalid(EvidenceError):
    """A key file exists but is not an Ed25519 key we can use."""


class TimestampError(EvidenceError):
    """The TSA could not be reached or its reply was not a granted, matching token."""
