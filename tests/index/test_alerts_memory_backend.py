"""A tiny in-memory Backend for the matching and alert tests, and its own contract checks.

It lets the drain stages be tested through the production Drainer and Store code paths
without depending on a particular search engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from config import Settings
from documents import Document, Page
from index.backends.base import Backend, Rejected
from index.store import Store
from query.model import Search, SearchResult, Term
from query.reference import evaluate


class MemoryBackend(Backend):
    name = "memory"

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}
        self.writes = 0

    async def open(self, *, writer: bool) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(self, docs: Sequence[Document]) -> list[Rejected]:
        self.writes += 1
        for doc in docs:
            self.docs.setdefault(doc.KIND, {})[doc.id] = doc.source()
        return []

    async def get(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        table = self.docs.get(kind, {})
        return {i: table[i] for i in ids if i in table}

    async def search(self, search: Search) -> SearchResult:
        table = self.docs.get(search.kind, {})
        return evaluate(search, list(table.values()), ids=list(table))

    async def delete(self, kind: str, ids: Sequence[str]) -> int:
        table = self.docs.get(kind, {})
        return sum(table.pop(i, None) is not None for i in ids)

    async def count(self, kind: str) -> int:
        return len(self.docs.get(kind, {}))


class MemoryStore(Store):
    """The production Store with its backend swapped for one shared MemoryBackend."""

    def __init__(self, settings: Settings, backend: MemoryBackend | None = None):
        super().__init__(settings)
        self.memory = backend or MemoryBackend()

    def backend(self) -> Backend:
        return self.memory


async def test_memory_backend_upserts_by_id_and_searches() -> None:
    backend = MemoryBackend()
    page = Page(url="http://abc.onion/x", fetched_at="2026-11-28T12:00:00Z", title="lamp")
    await backend.write([page, page])
    assert await backend.count("page") == 1
    result = await backend.search(Search("page", Term("host", "abc.onion")))
    assert result["hits"]["total"]["value"] == 1
    assert await backend.delete("page", [page.id]) == 1
