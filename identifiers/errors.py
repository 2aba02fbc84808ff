"""Errors of identifier values: a value that is not valid for its type, a registry defined twice."""

from __future__ import annotations

from errors import HeroesError


class IdentifierError(HeroesError):
    """Base of every identifier error."""


class InvalidIdentifier(IdentifierError, ValueError):
    """A value is not valid for its type; the message quotes it and says what is wrong."""


class UnknownIdentifier(IdentifierError):
    """A type name that no registered identifier type has."""


class DuplicateIdentifier(IdentifierError):
    """Two identifier types claim the same name: a programming error found at start-up."""
