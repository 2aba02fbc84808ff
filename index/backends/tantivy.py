"""The embedded backend: one tantivy index per document kind under ``<path>/<kind>``.

Reads ``index.writer_heap_mb`` (writer memory) and ``index.reader_reload_s`` (how stale a
reader may be). Only ``open(writer=True)`` creates writers, and tantivy's own lock file makes
a second writing process fail with :class:`~errors.WriterLocked`. Readers never create
anything: a kind whose index does not exist yet answers with no hits.

The schema comes from :mod:`~index.backends.tantivy_schema`, queries from
:mod:`~index.backends.tantivy_query`; what tantivy lacks is made exact in
:mod:`~index.backends.tantivy_paging` (field sorts with the id tie-breaker, search_after)
and :mod:`~index.backends.tantivy_aggs` (exact terms buckets, date histograms).

Every tantivy call runs in a worker thread. tantivy errors become ours: an index that
cannot be opened or read raises :class:`~errors.BackendUnavailable`; a panic inside
tantivy (a ``BaseException``) is caught and translated too.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import tantivy

from config.sections.index import IndexSettings
from documents import KINDS, Document
from errors import BackendUnavailable, QueryError, WriterLocked
from index.backends.base import Backend, Rejected
from index.backends.tantivy_aggs import Aggregator, empty_aggs
from index.backends.tantivy_paging import Hit, Pager
from index.backends.tantivy_partitions import PartitionKeys
from index.backends.tantivy_query import compile_query
from index.backends.tantivy_schema import (
    ID,
    SOURCE,
    KindSchema,
    Refused,
    build_schema,
    to_tantivy,
)
from query.model import Search, SearchResult
from query.validate import SCORE, validate_search

log = logging.getLogger(__name__)

T = TypeVar("T")
TQ = tantivy.Query


class _Kind:
    """One kind's index, its writer (writer mode) and when its reader last reloaded."""

    def __init__(self, ks: KindSchema, path: Path):
        self.ks = ks
        self.path = path
        self.index: tantivy.Index | None = None
        self.writer: tantivy.IndexWriter | None = None
        self.reloaded = 0.0
        self.generation: tuple[str, bytes] | None = None
        self.partition_keys = PartitionKeys()


class TantivyBackend(Backend):
    name = "tantivy"

    def __init__(self, path: Path, settings: IndexSettings):
        self.path = Path(path)
        self.settings = settings
        self._kinds: dict[str, _Kind] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self, *, writer: bool) -> None:
        await _run(self._open, writer)

    def _open(self, writer: bool) -> None:
        if self._kinds:
            raise BackendUnavailable("the tantivy backend is already open; close it first")
        try:
            for kind, cls in KINDS.items():
                entry = _Kind(build_schema(cls), self.path / kind)
                self._kinds[kind] = entry
                if writer:
                    self._create(entry)
                else:
                    self._attach(entry)
        except BaseException:
            self._close()  # release the writers (and their locks) opened so far
            raise

    def _create(self, entry: _Kind) -> None:
        entry.path.mkdir(parents=True, exist_ok=True)
        try:
            entry.index = tantivy.Index(entry.ks.schema, path=str(entry.path), reuse=True)
        except ValueError as exc:
            raise BackendUnavailable(
                f"cannot open the {entry.ks.kind} index at {entry.path}: {exc} (built by another "
                "version? move it away and re-ingest)") from exc
        heap_mb = self.settings.writer_heap_mb
        # tantivy needs at least ~15 MB of heap per indexing thread.
        threads = max(1, min(os.cpu_count() or 1, heap_mb // 32))
        try:
            entry.writer = entry.index.writer(heap_size=heap_mb * 2**20, num_threads=threads)
        except ValueError as exc:
            if "LockBusy" in str(exc) or "lock" in str(exc).lower():
                raise WriterLocked(f"another process writes the index at {entry.path}") from exc
            raise BackendUnavailable(f"cannot write the index at {entry.path}: {exc}") from exc
        entry.index.config_reader(reload_policy="Manual")
        self._reload(entry)

    def _attach(self, entry: _Kind) -> bool:
        """Open a kind's index read-only if it exists yet."""
        if entry.index is not None:
            return True
        if not (entry.path / "meta.json").is_file():
            return False
        try:
            entry.index = tantivy.Index.open(str(entry.path))
            entry.index.config_reader(reload_policy="Manual")
        except ValueError as exc:
            raise BackendUnavailable(f"cannot open the index at {entry.path}: {exc}") from exc
        # Schema objects compare by content; their str() is only the object's address.
        if entry.index.schema != entry.ks.schema:
            log.warning("index at %s has another schema than this version generates", entry.path)
        self._reload(entry)
        return True

    def _reload(self, entry: _Kind) -> None:
        """Make the kind's latest commit searchable, unless its searcher has it already."""
        assert entry.index is not None
        # Every commit and merge rewrites meta.json (segments, deletes, opstamp), so the same
        # content is the same searchable index, and its digest is the generation that caches
        # key on. The file's inode and mtime were not: ext4 reuses a freed inode at once and
        # its mtime ticks every few milliseconds, so two commits apart could look alike.
        # Read before the reload, a stale generation can only make one needless reload or
        # cache miss, never serve results older than it.
        try:
            meta = (entry.path / "meta.json").read_bytes()
        except OSError:
            generation = None
        else:
            generation = (str(entry.path), hashlib.blake2b(meta, digest_size=16).digest())
        entry.reloaded = time.monotonic()
        if generation is not None and generation == entry.generation:
            return
        entry.generation = generation
        entry.index.reload()

    def generation(self, kind: str) -> object | None:
        entry = self._kinds.get(kind)
        return None if entry is None or entry.index is None else entry.generation

    def _reader(self, kind: str) -> _Kind | None:
        entry = self._kinds.get(kind)
        if entry is None:
            if not self._kinds:
                raise BackendUnavailable("the tantivy backend is not open")
            raise QueryError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        if not self._attach(entry):
            return None
        if time.monotonic() - entry.reloaded >= self.settings.reader_reload_s:
            self._reload(entry)
        return entry

    async def close(self) -> None:
        await _run(self._close)

    def _close(self) -> None:
        with self._lock:
            for entry in self._kinds.values():
                if entry.writer is not None:
                    try:
                        entry.writer.wait_merging_threads()
                    except ValueError as exc:
                        log.warning("closing the %s index writer: %s", entry.ks.kind, exc)
                    entry.writer = None
            self._kinds.clear()

    async def refresh(self) -> None:
        await _run(self._refresh)

    def _refresh(self) -> None:
        for entry in self._kinds.values():
            if self._attach(entry):
                self._reload(entry)

    # -- writing ---------------------------------------------------------------------------

    async def write(self, docs: Sequence[Document]) -> list[Rejected]:
        return await _run(self._write, list(docs))

    def _writable(self, kind: str) -> _Kind:
        entry = self._kinds.get(kind)
        if entry is None or entry.writer is None:
            raise BackendUnavailable("the tantivy backend is not open for writing")
        return entry

    def _write(self, docs: list[Document]) -> list[Rejected]:
        rejected: list[Rejected] = []
        by_kind: dict[str, list[Document]] = {}
        for doc in docs:
            by_kind.setdefault(doc.KIND, []).append(doc)
        with self._lock:
            for kind, group in by_kind.items():
                entry = self._writable(kind)
                writer = entry.writer
                assert writer is not None
                for doc in group:
                    doc_id = doc.id  # a hash of the key: computed once, used three times
                    try:
                        converted = to_tantivy(entry.ks, doc, doc_id)
                    except Refused as exc:
                        rejected.append(Rejected(doc_id, kind, str(exc)))
                        continue
                    writer.delete_documents_by_term(ID, doc_id)
                    try:
                        writer.add_document(converted)
                    except ValueError as exc:
                        rejected.append(Rejected(doc_id, kind, f"tantivy refused it: {exc}"))
                self._commit(entry)
        return rejected

    def _commit(self, entry: _Kind) -> None:
        assert entry.writer is not None
        try:
            entry.writer.commit()
        except ValueError as exc:
            raise BackendUnavailable(f"commit to {entry.path} failed: {exc}") from exc
        self._reload(entry)

    async def delete(self, kind: str, ids: Sequence[str]) -> int:
        return await _run(self._delete, kind, list(ids))

    def _delete(self, kind: str, ids: list[str]) -> int:
        existing = self._get(kind, ids)
        with self._lock:
            entry = self._writable(kind)
            assert entry.writer is not None
            for doc_id in existing:
                entry.writer.delete_documents_by_term(ID, doc_id)
            if existing:
                self._commit(entry)
        return len(existing)

    # -- reading ---------------------------------------------------------------------------

    async def get(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await _run(self._get, kind, list(ids))

    def _get(self, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        entry = self._reader(kind)
        if entry is None or not ids:
            return {}
        assert entry.index is not None
        searcher = entry.index.searcher()
        unique = list(dict.fromkeys(ids))
        query = TQ.term_set_query(entry.ks.schema, ID, unique)
        out: dict[str, dict[str, Any]] = {}
        for _, addr in searcher.search(query, len(unique), count=False).hits:
            doc = searcher.doc(addr)
            out[doc.get_first(ID)] = json.loads(doc.get_first(SOURCE))
        return out

    async def count(self, kind: str) -> int:
        return await _run(self._count, kind)

    def _count(self, kind: str) -> int:
        entry = self._reader(kind)
        if entry is None:
            return 0
        assert entry.index is not None
        return entry.index.searcher().num_docs

    async def search(self, search: Search) -> SearchResult:
        return await _run(self._search, search)

    def _search(self, search: Search) -> SearchResult:
        started = time.perf_counter()
        search = validate_search(search)
        entry = self._reader(search.kind)
        if entry is None:
            return _result(search, 0, [], empty_aggs(search), started)
        assert entry.index is not None
        searcher = entry.index.searcher()
        query = compile_query(entry.ks, search.query)
        pager = Pager(entry.ks, searcher, query, search)
        hits: list[Hit] = []
        if search.size and pager.relevance_only:
            hits, total = pager.by_relevance()  # one tantivy call finds the page and the total
        else:
            total = searcher.search(query, 1, count=True).count
            if search.size and total:
                hits = pager.page()
        aggs = Aggregator(entry.ks, searcher, query, entry.partition_keys,
                          entry.generation).run(search) if search.aggs else {}
        return _result(search, total, [_render(searcher, search, h) for h in hits], aggs, started)


# -- results -----------------------------------------------------------------------------------

def _render(searcher: tantivy.Searcher, search: Search, hit: Hit) -> dict[str, Any]:
    doc = searcher.doc(hit.addr)
    doc_id = doc.get_first(ID)
    field_sort = bool(search.sort) and all(s.field != SCORE for s in search.sort)
    return {
        "_index": search.kind,
        "_id": doc_id,
        "_score": None if field_sort else hit.score,
        "_source": json.loads(doc.get_first(SOURCE)),
        "sort": [*hit.key[:-1], doc_id],
    }


def _result(search: Search, total: int, hits: list[dict[str, Any]], aggs: dict[str, Any],
            started: float) -> SearchResult:
    scores = [h["_score"] for h in hits if h["_score"] is not None]
    result: SearchResult = {
        "took": int((time.perf_counter() - started) * 1000),
        "timed_out": False,
        "hits": {"total": {"value": total, "relation": "eq"},
                 "max_score": max(scores) if scores else None, "hits": hits},
    }
    if search.aggs:
        result["aggregations"] = aggs
    return result


async def _run(fn: Callable[..., T], *args: Any) -> T:
    """Run a tantivy call in a worker thread, translating tantivy's failures into ours."""
    return await asyncio.to_thread(_guarded, fn, *args)


def _guarded(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except (QueryError, BackendUnavailable, WriterLocked):
        raise
    except (ValueError, OSError) as exc:
        raise BackendUnavailable(f"tantivy: {exc}") from exc
    except BaseException as exc:
        # tantivy's Rust panics arrive as pyo3's PanicException, a BaseException.
        if type(exc).__name__ == "PanicException":
            raise BackendUnavailable(f"tantivy panicked: {exc}") from exc
        raise
