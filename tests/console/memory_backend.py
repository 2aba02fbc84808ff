"""An in-memory Backend for console tests, answering searches with the reference evaluator.

Used when the embedded engine is not installed, so the console is tested against the
Backend interface and the executable specification of the query semantics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from documents import KINDS, Document
from index.backends.base import Backend, Rejected
from index.store import Store
from query.model import Search, SearchResult
from query.reference import evaluate


class MemoryBackend(Backend):
    name = "memory"

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}

    async def open(self, *, writer: bool) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(self, docs: Sequence[Document]) -> list[Rejected]:
        for doc in docs:
            self.docs[doc.KIND][doc.id] = doc.source()
        return []

    async def get(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {i: self.docs[kind][i] for i in ids if i in self.docs[kind]}

    async def delete(self, kind: str, ids: Sequence[str]) -> int:
        return sum(1 for i in ids if self.docs[kind].pop(i, None) is not None)

    async def count(self, kind: str) -> int:
        return len(self.docs[kind])

    async def search(self, search: Search) -> SearchResult:
        items = list(self.docs[search.kind].items())
        return evaluate(search, [s for _, s in items], [i for i, _ in items])


class MemoryStore(Store):
    """A Store whose every backend handle is one shared MemoryBackend."""

    def __init__(self, settings: Any, backend: MemoryBackend | None = None):
        super().__init__(settings)
        self.memory = backend or MemoryBackend()

    def backend(self) -> Backend:
        return self.memory
