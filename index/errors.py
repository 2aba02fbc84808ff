"""Errors of the index package; backend libraries' exceptions are translated into these."""

from __future__ import annotations


class IndexError_(Exception):
    """Base of every index error."""


class InvalidDocument(IndexError_):
    """A document failed validation; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class QueryError(IndexError_):
    """A query is malformed or asks something of a field that cannot answer it."""


class BackendUnavailable(IndexError_):
    """The backend cannot be reached or refused the operation for now; retry later."""


class WriterLocked(IndexError_):
    """Another process holds the index writer lock."""
