"""Errors of hash lists: bad values, unknown types or formats, a registry defined twice."""

from __future__ import annotations

from errors import HeroesError


class HashSetError(HeroesError):
    """Base of every hash-list error."""


class BadValue(HashSetError, ValueError):
    """A value is not valid for its type; the message says what is wrong and quotes it."""


class UnknownHashType(HashSetError):
    """A type name that no registered hash type has."""


class DuplicateHashType(HashSetError):
    """Two hash types claim the same name: a programming error found at start-up."""


class UnreadableFile(HashSetError):
    """A hash-list file cannot be read at all (missing, not UTF-8, no usable header)."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(message if line is None else f"{line}: {message}")
