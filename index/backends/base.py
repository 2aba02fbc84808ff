"""The interface every search backend implements, and the one result shape they all return.

A backend stores documents of every kind (one index family per kind) and answers
:class:`~query.model.Search` requests. Results use Elasticsearch's response shape::

    {"took": ms, "hits": {"total": {"value": N, "relation": "eq"},
                          "hits": [{"_index": kind, "_id": id, "_score": s, "_source": {...},
                                    "sort": [...]}]},
     "aggregations": {name: {"buckets": [{"key": k, "doc_count": n}, ...]}}}

How it fails: an unreachable or overloaded backend raises
:class:`~errors.BackendUnavailable` (callers retry; the spool keeps the documents);
a bad query raises :class:`~errors.QueryError`; a document the backend refuses is
reported per document by :meth:`Backend.write`, never by dropping it silently.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from documents import Document
from query.model import Search, SearchResult


@dataclass(frozen=True)
class Rejected:
    """A document the backend refused, with the backend's reason."""

    doc_id: str
    kind: str
    reason: str


class Backend(abc.ABC):
    """A document store with search. Writes are upserts by deterministic id."""

    name: str = "?"
    # Whether writers in several processes or machines may write at once without losing
    # updates (merges are conditional writes). False: one writer, under the writer lock.
    concurrent_writers: bool = False

    @abc.abstractmethod
    async def open(self, *, writer: bool) -> None:
        """Open (creating indices on first use). Only one process may open as writer."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and release everything; safe to call twice."""

    @abc.abstractmethod
    async def write(self, docs: Sequence[Document]) -> list[Rejected]:
        """Upsert documents and make them durable (committed) before returning.

        Returns the documents the backend refused; every other document is committed.
        """

    @abc.abstractmethod
    async def get(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The ``_source`` of each id that exists (missing ids are absent from the result)."""

    @abc.abstractmethod
    async def search(self, search: Search) -> SearchResult:
        """Run one search; see the module docstring for the result shape."""

    @abc.abstractmethod
    async def delete(self, kind: str, ids: Sequence[str]) -> int:
        """Delete documents by id; returns how many existed."""

    @abc.abstractmethod
    async def count(self, kind: str) -> int:
        """Documents of a kind."""

    async def refresh(self) -> None:  # noqa: B027 - optional hook
        """Make the latest commits visible to searches from this process."""

    def generation(self, kind: str) -> object | None:
        """What searches of ``kind`` see now: an equal value later means the same indexed
        documents, so results computed from them may be reused. ``None`` (the default)
        when the backend cannot tell cheaply: then nothing is reused."""
        return None
