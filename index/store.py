"""Where an installation keeps its state, and the handles producers, readers and the drain need.

Producers only append to the spool (:meth:`Store.append`); readers open the backend
read-only (:meth:`Store.reader`); :meth:`Store.writer` holds the writer lock and a writable
backend and, with ``with_stages``, the installation's drain stages, which the store
assembles (:meth:`Store.drain_stages`) and closes again. Long-lived commands run the
:class:`DrainRole` (:meth:`Store.drain_role`), which drains whenever it holds the writer lock.

Stages, in order: pages name the torrents their magnet links point to (``index.derive``),
so the probe can watch them; matching (``matching`` settings) marks flagged documents; the
alert engine (``alerts`` settings; its email waits for ``smtp``) sees the marked, committed
documents. A stage that is off says why in the log. Reads ``data_dir``, ``index``,
``matching``, ``alerts`` and ``smtp.host``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

from alerting.db import alert_db_path
from alerting.engine import AlertEngine
from config import Settings
from documents import Document
from errors import BackendUnavailable
from index.backends.base import Backend
from index.backends.es_alerts import cluster_alerts_for
from index.backends.registry import make_backend
from index.classify import KeywordStage
from index.derive import TorrentsFromPages
from index.drain import Drainer, DrainStage
from index.hashsets.cluster_lists import ClusterListsStage, cluster_lists_for
from index.hashsets.membership import MembershipStore, membership_path
from index.matching import MatchingStage
from index.matching_alerts import QuarantineAlerter
from index.spool import Spool
from index.writer_lock import WriterLock
from query.model import Search, SearchResult
from telemetry.sources import forget_spool, watch_spool

log = logging.getLogger(__name__)


class Store:
    """Paths and handles of one installation (one data directory)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self._spool: Spool | None = None

    @property
    def spool_path(self) -> Path:
        return self.data_dir / "spool.sqlite"

    @property
    def spool(self) -> Spool:
        if self._spool is None:
            self._spool = Spool(self.spool_path)
            watch_spool(str(self.spool_path), self._spool)
        return self._spool

    def append(self, docs: Iterable[Document]) -> int:
        return self.spool.append(docs)

    def writer_lock(self) -> WriterLock:
        """The lock whose holder drains this data directory's spool.

        The embedded index takes one writer, so it is the index writer lock. A backend
        with concurrent writers (Elasticsearch) needs no lock between drainers of
        different data directories or machines; this lock then only keeps two drainers
        off the one spool of this data directory.
        """
        if self.backend().concurrent_writers:
            return WriterLock(self.data_dir / "spool.drain.lock")
        return self.embedded_writer_lock()

    def embedded_writer_lock(self) -> WriterLock:
        """The embedded index's one-writer lock, whatever backend the settings choose."""
        return WriterLock(self.data_dir / "index.writer.lock")

    def backend(self) -> Backend:
        return make_backend(self.settings)

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[Backend]:
        backend = self.backend()
        await backend.open(writer=False)
        try:
            yield backend
        finally:
            await backend.close()

    async def search(self, search: Search) -> SearchResult:
        async with self.reader() as backend:
            return await backend.search(search)

    @contextlib.contextmanager
    def drain_stages(self) -> Iterator[list[DrainStage]]:
        """The installation's drain stages, closed (in reverse order) on exit."""
        settings = self.settings
        with contextlib.ExitStack() as resources:
            stages: list[DrainStage] = [TorrentsFromPages()]
            if settings.matching.enabled:
                lists = cluster_lists_for(settings)
                if lists is not None:
                    follow = ClusterListsStage(lists, membership_path(settings.data_dir),
                                               settings.matching.reload_check_s)
                    resources.callback(follow.close)
                    stages.append(follow)
                members = MembershipStore(membership_path(settings.data_dir))
                resources.callback(members.close)
                alerter = QuarantineAlerter(
                    settings.alerts, alert_db_path(settings.data_dir), self.append,
                    flood_hits=settings.matching.flood_hits,
                    flood_window_s=settings.matching.flood_window_s,
                    cluster=cluster_alerts_for(settings),
                )
                resources.callback(alerter.close)
                stages.append(MatchingStage(members, settings.matching, quarantine_alerts=alerter))
                stages.append(KeywordStage(members, settings.matching))
            else:
                log.info("matching is off (matching.enabled = false)")
            if settings.alerts.rules:
                engine = AlertEngine(
                    settings.alerts, alert_db_path(settings.data_dir), self.append,
                    cluster=cluster_alerts_for(settings),
                )
                resources.callback(engine.close)
                stages.append(engine)
                if not settings.smtp.host:
                    log.warning("%d alert rules but smtp.host is empty: alert email waits in "
                                "the outbox", len(settings.alerts.rules))
            else:
                log.info("alert rules are off (no [[alerts.rules]] configured)")
            log.info("drain stages: %s", ", ".join(s.name for s in stages))
            yield stages

    @contextlib.asynccontextmanager
    async def writer(
        self, *, with_stages: bool = False, lock_held: bool = False
    ) -> AsyncIterator[Drainer]:
        """Hold the writer lock and a writable backend; yields a :class:`Drainer`.

        ``with_stages``: the drainer runs the installation's drain stages. Raises
        :class:`errors.WriterLocked` when another process holds the lock (unless the caller
        already holds it: ``lock_held``), and what the backend's ``open`` raises.
        """
        lock = None
        if not lock_held:
            lock = self.writer_lock()
            lock.acquire()
        try:
            with contextlib.ExitStack() as resources:
                stages = resources.enter_context(self.drain_stages()) if with_stages else []
                backend = self.backend()
                await backend.open(writer=True)
                try:
                    index = self.settings.index
                    yield Drainer(self.spool, backend, batch_size=index.batch_size,
                                  batch_age_s=index.batch_age_s, stages=stages)
                finally:
                    await backend.close()
        finally:
            if lock is not None:
                lock.release()

    def drain_role(self, *, lock_poll_s: float = 1.0) -> DrainRole:
        return DrainRole(self, lock_poll_s=lock_poll_s)

    def close(self) -> None:
        if self._spool is not None:
            forget_spool(str(self.spool_path))
            self._spool.close()
            self._spool = None


class DrainRole:
    """The drain role: drains the spool while this process holds the writer lock.

    ``async with role: await role.run(stop)``. ``run`` waits for the writer lock while
    another process holds it (that process drains), then opens the backend and the drain
    stages, drains in batches (full, or the oldest document waited ``index.batch_age_s``)
    until ``stop`` is set, drains what is left, and closes stages, backend and lock in
    reverse order. A backend that cannot be opened is retried with backoff; whatever is not
    drained stays in the spool. ``drained`` is how many documents it consumed.
    """

    name = "drain"

    def __init__(self, store: Store, *, lock_poll_s: float = 1.0, max_backoff_s: float = 30.0):
        self.store = store
        self.lock_poll_s = lock_poll_s
        self.max_backoff_s = max_backoff_s
        self.drainer: Drainer | None = None
        self._lock: WriterLock | None = None

    @property
    def drained(self) -> int:
        return self.drainer.counters.consumed if self.drainer else 0

    @property
    def rejected(self) -> int:
        return self.drainer.counters.rejected if self.drainer else 0

    async def __aenter__(self) -> DrainRole:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def run(self, stop: asyncio.Event) -> None:
        lock = self.store.writer_lock()
        while not lock.try_acquire():
            if await _wait(stop, self.lock_poll_s):
                log.info("another process holds the index writer lock and drains the spool")
                return
        self._lock = lock
        try:
            backoff = 0.5
            while True:
                try:
                    async with self.store.writer(with_stages=True, lock_held=True) as drainer:
                        self.drainer = drainer
                        log.info("draining the spool into the %s backend", drainer.backend.name)
                        await drainer.run(stop)
                        await drainer.drain_all()
                    return
                except BackendUnavailable as exc:
                    if stop.is_set():
                        log.error("cannot drain into the index (documents stay in the spool): "
                                  "%s", exc)
                        return
                    log.warning("cannot open the index for writing, retrying in %.1fs: %s",
                                backoff, exc)
                    await _wait(stop, backoff)
                    backoff = min(backoff * 2, self.max_backoff_s)
        finally:
            self._release()


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``event``; returns whether it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)
    return event.is_set()
