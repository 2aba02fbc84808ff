"""The error kinds every package raises; library exceptions become these at the boundary.

The CLI maps them to exit codes (``heroes.cli.app``): a bad document or query is a user
error (2), an unreachable backend a dependency that is down (3).
"""

from __future__ import annotations


class HeroesError(Exception):
    """Base of every error of the project's own."""


class InvalidDocument(HeroesError):
    """A document failed validation; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class QueryError(HeroesError):
    """A query is malformed or asks something of a field that cannot answer it."""


class BackendUnavailable(HeroesError):
    """The backend cannot be reached or refused the operation for now; retry later."""


class WriterLocked(HeroesError):
    """Another process holds the index writer lock."""


class StoreTooNew(HeroesError):
    """A store's file was written by a newer version of heroes than this one."""

    def __init__(self, path: object, found: int, known: int):
        self.path = path
        self.found = found
        self.known = known
        super().__init__(
            f"{path}: the store has schema version {found}, newer than this version of "
            f"heroes knows ({known}); upgrade heroes or restore a backup made by this version"
        )
