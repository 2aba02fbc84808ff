"""Where an installation keeps its state, and the handles producers and readers need.

Producers only append to the spool (:meth:`Store.spool`); long-lived commands call
:meth:`Store.drain_role` to drain whenever they hold the writer lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

from config import Settings
from index.backends.base import Backend, SearchResult
from index.backends.registry import make_backend
from index.documents import Document
from index.drain import Drainer, DrainStage
from index.query.model import Search
from index.spool import Spool
from index.writer_lock import WriterLock

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
        return self._spool

    def append(self, docs: Iterable[Document]) -> int:
        return self.spool.append(docs)

    def writer_lock(self) -> WriterLock:
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

    @contextlib.asynccontextmanager
    async def writer(self, stages: Sequence[DrainStage] = ()) -> AsyncIterator[Drainer]:
        """Hold the writer lock and a writable backend; yields a :class:`Drainer`."""
        lock = self.writer_lock()
        lock.acquire()
        backend = self.backend()
        try:
            await backend.open(writer=True)
            yield self._drainer(backend, stages)
        finally:
            await backend.close()
            lock.release()

    def _drainer(self, backend: Backend, stages: Sequence[DrainStage]) -> Drainer:
        index = self.settings.index
        return Drainer(self.spool, backend, batch_size=index.batch_size,
                       batch_age_s=index.batch_age_s, stages=stages)

    async def drain_role(self, stop: asyncio.Event, stages: Sequence[DrainStage] = ()) -> None:
        """Drain while holding the writer lock; wait for it while another process holds it."""
        lock = self.writer_lock()
        while not stop.is_set():
            if lock.try_acquire():
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
        if not lock.held:
            return
        backend = self.backend()
        try:
            await backend.open(writer=True)
            drainer = self._drainer(backend, stages)
            log.info("draining the spool into the %s backend", backend.name)
            await drainer.run(stop)
            await drainer.drain_all()
        finally:
            await backend.close()
            lock.release()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
