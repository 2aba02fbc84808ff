"""Drain the spool into the backend in batches, running the drain stages on every document.

Outcomes per spooled document: committed (removed from the spool), refused by the backend
(moved to ``rejected`` with the reason), invalid JSON for its kind (moved to ``rejected``),
or left in the spool because the backend is down (retried with backoff).

A batch is written when it is full (``index.batch_size`` documents) or when its oldest
document has waited ``index.batch_age_s`` seconds, whichever comes first; on stop, and in
:meth:`Drainer.drain_all`, everything in the spool is written at once.

Drain stages (flagged-value matching, alert rules) see every document exactly once per
commit: ``before_write`` may mark documents, ``after_commit`` runs once the backend
committed and before the spool forgets them, so a crash replays the batch and stages must
be idempotent (deterministic ids make that easy). Kinds that merge versions are merged with
the stored copy before the stages see them; a backend that writes them conditionally
(:class:`ReadsForMerge`, Elasticsearch) keeps the versions of that one read for its write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from documents import KINDS, Document
from documents.base import validate
from errors import BackendUnavailable, InvalidDocument
from index.backends.base import Backend
from index.spool import Spool, SpooledDoc
from telemetry.metrics import BACKEND_ERRORS, DRAIN_LAG, DRAINED, SET_ASIDE

log = logging.getLogger(__name__)


class DrainStage(Protocol):
    name: str

    async def before_write(self, docs: list[Document]) -> list[Document]:
        """Return the documents to write (marked, e.g. with matches)."""
        ...

    async def after_commit(self, docs: Sequence[Document]) -> None:
        """React to committed documents (e.g. raise alerts)."""
        ...


@runtime_checkable
class ReadsForMerge(Protocol):
    """A backend whose merge read also serves its conditional write (no second read)."""

    async def read_for_merge(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored ``_source`` of each id, as :meth:`Backend.get`; the versions are kept
        for the next write."""
        ...


@dataclass
class DrainCounters:
    batches: int = 0
    committed: int = 0
    rejected: int = 0
    backend_failures: int = 0
    consumed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class Drainer:
    """Moves spooled documents into a backend; the caller must hold the writer lock."""

    def __init__(
        self,
        spool: Spool,
        backend: Backend,
        *,
        batch_size: int = 1000,
        stages: Sequence[DrainStage] = (),
        batch_age_s: float = 1.0,
    ):
        self.spool = spool
        self.backend = backend
        self.batch_size = batch_size
        self.batch_age_s = batch_age_s
        self.stages = list(stages)
        self.counters = DrainCounters()

    async def drain_once(self) -> int:
        """Drain one batch; returns how many spooled documents it consumed."""
        batch = await asyncio.to_thread(self.spool.peek, self.batch_size)
        if not batch:
            return 0
        valid: list[tuple[SpooledDoc, Document]] = []
        invalid: list[tuple[SpooledDoc, str]] = []
        for item in batch:
            try:
                cls = KINDS.get(item.kind)
                if cls is None:
                    raise InvalidDocument("kind", f"unknown kind {item.kind!r}")
                valid.append((item, validate(cls, item.body)))
            except InvalidDocument as exc:
                invalid.append((item, f"invalid document: {exc}"))
        docs = [doc for _, doc in valid]
        for stage in self.stages:
            docs = await stage.before_write(docs)
        # Stages may add documents (e.g. torrents named by pages): merge after them.
        docs = await self._merge(docs)
        try:
            refused = await self.backend.write(docs)
        except BackendUnavailable:
            self.counters.backend_failures += 1
            BACKEND_ERRORS.labels(self.backend.name).inc()
            raise
        refused_ids = {(r.kind, r.doc_id): r.reason for r in refused}
        # An id is a hash of the key, computed on each access: only look when some were refused.
        committed = [d for d in docs if (d.KIND, d.id) not in refused_ids] if refused_ids else docs
        for stage in self.stages:
            await stage.after_commit(committed)
        for item, _ in valid:
            reason = refused_ids.get((item.kind, item.doc_id))
            if reason is not None:
                invalid.append((item, reason))
        if invalid:
            for item, reason in invalid:
                log.warning("document %s/%s set aside: %s", item.kind, item.doc_id, reason)
            await asyncio.to_thread(self.spool.reject, invalid)
        rejected_seqs = {item.seq for item, _ in invalid}
        await asyncio.to_thread(
            self.spool.done, [i.seq for i in batch if i.seq not in rejected_seqs]
        )
        self.counters.batches += 1
        self.counters.committed += len(batch) - len(invalid)
        self.counters.rejected += len(invalid)
        self.counters.consumed += len(batch)
        for item in batch:
            self.counters.by_kind[item.kind] = self.counters.by_kind.get(item.kind, 0) + 1
            if item.seq not in rejected_seqs:
                DRAINED.labels(item.kind).inc()
        for item, _ in invalid:
            SET_ASIDE.labels(item.kind).inc()
        DRAIN_LAG.set(max(time.time() - min(i.added_at for i in batch), 0.0))
        return len(batch)

    async def _merge(self, docs: list[Document]) -> list[Document]:
        """Fold several versions of one id, and the version already indexed, into one."""
        latest: dict[tuple[str, str], Document] = {}
        for doc in docs:
            key = (doc.KIND, doc.id)
            latest[key] = doc.merged_with(latest[key]) if key in latest else doc
        by_kind: dict[str, list[str]] = {}
        for kind, doc_id in latest:
            # A kind whose newer version simply replaces the older needs no look-up.
            if KINDS[kind].merged_with is not Document.merged_with:
                by_kind.setdefault(kind, []).append(doc_id)
        read = (self.backend.read_for_merge if isinstance(self.backend, ReadsForMerge)
                else self.backend.get)
        for kind, ids in by_kind.items():
            existing = await read(kind, ids)
            for doc_id, source in existing.items():
                try:
                    old = validate(KINDS[kind], source)
                except InvalidDocument:
                    continue
                latest[(kind, doc_id)] = latest[(kind, doc_id)].merged_with(old)
        return list(latest.values())

    async def drain_all(self) -> int:
        """Drain until the spool is empty; returns how many documents were consumed."""
        total = 0
        while n := await self.drain_once():
            total += n
        return total

    async def run(
        self, stop: asyncio.Event, *, idle_s: float = 0.2, max_backoff_s: float = 30.0
    ) -> None:
        """Drain until ``stop`` is set; a batch goes when full or when its oldest document
        has waited ``batch_age_s``. Backend outages back off. The caller flushes the rest
        (:meth:`drain_all`)."""
        backoff = 0.5
        while not stop.is_set():
            wait = await asyncio.to_thread(self._until_due)
            if wait > 0:
                await _wait(stop, min(wait, idle_s))
                continue
            try:
                await self.drain_once()
                backoff = 0.5
            except BackendUnavailable as exc:
                log.warning("backend unavailable, retrying in %.1fs: %s", backoff, exc)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, max_backoff_s)

    def _until_due(self) -> float:
        """Seconds until a batch is due: 0 when one is full or its oldest document is old
        enough, ``inf`` when the spool is empty."""
        age = self.spool.oldest_age()
        if age is None:
            return float("inf")
        if age >= self.batch_age_s or self.spool.holds(self.batch_size):
            return 0.0
        return self.batch_age_s - age


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except TimeoutError:
        pass
