"""Errors of the probe package; libtorrent's exceptions are translated into these."""

from __future__ import annotations


class ProbeError(Exception):
    """Base of every probe error."""


class TargetError(ProbeError):
    """A target (infohash or magnet link) is malformed; the message quotes it."""


class SessionError(ProbeError):
    """libtorrent refused to start a session or add a torrent."""


class EvidenceError(ProbeError):
    """An evidence log or export cannot be read or written."""


class VerificationError(ProbeError):
    """Single-source verification could not be completed."""
