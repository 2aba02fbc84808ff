"""The crawl service's scan: every service the index knows is queued for its re-check.

``ServiceScanRole`` runs beside the ``crawl --forever`` crawl (:class:`crawler.run.CrawlRole`
with ``forever``). Every ``crawler.service_scan_s`` it reads all ``service`` documents of
the index, page by page (:mod:`crawler.known_services`, no cap on their number), and pushes
the front page of each onto the crawl's frontier, due when :func:`crawler.recrawl.next_check`
says (live: after ``recrawl_interval_h``; down: backing off, capped by ``max_recheck_s``).
A front page the frontier already holds keeps its own schedule (the push is a duplicate), so
this reaches the services found by other jobs, older crawls or other machines. New services
(seeds, links, onions named in text) enter the frontier due at once and with a higher
priority than re-checks; a page that changed is fetched again on its own schedule. After
each pass the mirrors of a service crawled deeply (not :func:`crawler.mirrors.is_group_primary`)
are stored on the frontier as its uptime-only hosts (:mod:`crawler.uptime_only`): only their
front pages are fetched again. A store or index outage skips one scan with a warning. Counts what
it did in :attr:`last_scan`.
Reads ``[crawler]``, ``[frontier]`` and ``[index]``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from config import Settings
from crawler.frontier import FrontierStore, FrontierUnavailable, NewUrl, Outcome, open_store
from crawler.known_services import known_services
from crawler.mirrors import is_group_primary
from crawler.recrawl import next_check
from crawler.service_frontier import RECHECK_PRIORITY
from errors import BackendUnavailable
from index.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

PUSH_BATCH = 500


@dataclass
class ScanResult:
    services: int = 0
    queued: int = 0
    uptime_only: int = 0  # mirrors whose deep pages are not crawled
    seconds: float = 0.0


class ServiceScanRole:
    """``async with ServiceScanRole(settings, job, job_db) as scan: await scan.run(stop)``."""

    name = "service-scan"

    def __init__(self, settings: Settings, job: str, job_db: Path):
        self.settings = settings
        self.job = job
        self.job_db = job_db
        self.last_scan = ScanResult()
        self._index: Store | None = None
        self._frontier: FrontierStore | None = None

    async def __aenter__(self) -> ServiceScanRole:
        self._index = Store(self.settings)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._frontier is not None:
            self._frontier.close()
            self._frontier = None
        if self._index is not None:
            self._index.close()
            self._index = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.last_scan = await self.scan()
                log.info("service scan: %d known services, %d queued for their re-check, "
                         "%d mirrors checked for uptime only", self.last_scan.services,
                         self.last_scan.queued, self.last_scan.uptime_only)
            except BackendUnavailable as exc:
                log.warning("service scan skipped (next in %g s): %s",
                            self.settings.crawler.service_scan_s, exc)
            try:
                await asyncio.wait_for(stop.wait(), self.settings.crawler.service_scan_s)
            except TimeoutError:
                pass

    async def scan(self) -> ScanResult:
        """One pass over the index's services; raises BackendUnavailable (store or index)."""
        if self._index is None:
            raise RuntimeError("ServiceScanRole.scan() runs inside 'async with'")
        started = time.monotonic()
        result = ScanResult()
        batch: list[NewUrl] = []
        now = datetime.now(UTC)
        mirrors: list[str] = []
        async for service in known_services(self._index):
            result.services += 1
            if not is_group_primary(service):
                mirrors.append(service.host)
            due_in = (next_check(service, self.settings.crawler) - now).total_seconds()
            batch.append(NewUrl(f"http://{service.host}/", priority=RECHECK_PRIORITY,
                                callback="parse", errback="failed", delay_s=max(0.0, due_in)))
            if len(batch) >= PUSH_BATCH:
                result.queued += await self._push(batch)
                batch = []
        if batch:
            result.queued += await self._push(batch)
        await self._frontier_call(lambda store: store.set_uptime_only(mirrors))
        result.uptime_only = len(mirrors)
        result.seconds = round(time.monotonic() - started, 2)
        return result

    async def _push(self, items: list[NewUrl]) -> int:
        outcomes = await self._frontier_call(lambda store: store.push(items))
        return sum(1 for o in outcomes if o is Outcome.ADDED)

    async def _frontier_call(self, op: Callable[[FrontierStore], T]) -> T:
        """``op(store)`` in a worker thread, the store opened on first use; a store that
        failed is closed and opened again next time."""
        def call() -> T:
            if self._frontier is None:
                self._frontier = open_store(self.settings, self.job, self.job_db)
            return op(self._frontier)

        try:
            return await asyncio.to_thread(call)
        except FrontierUnavailable:
            if self._frontier is not None:
                self._frontier.close()
                self._frontier = None
            raise
