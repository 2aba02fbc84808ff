"""``SpoolPipeline``: page items become ``page`` documents in the spool; hosts become ``service``s.

Outcomes per item: a ``PageItem`` is appended to the spool (in small batches, and the item
is released only once its batch is committed, so the frontier never marks a page done that
is not on disk); a ``SkipItem`` is counted (``heroes/skipped/<reason>``). When the spider
closes, one ``service`` document per host seen is appended: first/last seen, up or down
(a host is up if any page answered with an HTTP status), title of its front page, Server
header, page count, the union of its pages' pivots, and this crawl's check in its history.
A challenge page (``item.access``: queue, captcha, login, rate-limited, js-required) is
captured in WARC but never indexed as a page; it counts towards the service's ``access``
state (:mod:`crawler.access.state`), which the service document carries with its history
and the time it last served content. Counts ``heroes/pages``,
``heroes/page_errors``, ``heroes/services``. Every fetched page is also captured in WARC
files (:class:`crawler.warc.capture.PageCapture`, unless ``crawler.warc`` is off), made
durable before its batch is committed. Reads ``data_dir`` (the Store) and
``[index]`` through :class:`index.store.Store`.

Under ``crawl --forever`` (Scrapy setting ``HEROES_FOREVER``) a page fetched again costs no
re-index when it did not change: a 304 answer (``heroes/unchanged/not_modified``) or a body
whose SHA-256 is the one last indexed for its URL (``heroes/unchanged/same_hash``) is not
spooled; a changed or new page is, and its ``ETag``/``Last-Modified``/hash go into the
validator table (:mod:`crawler.validators`) once its batch is committed. The crawl never
closes, so the ``service`` documents of the hosts seen are appended every
``SERVICE_EVERY_S`` (each with the checks since the last one) and at the end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy.crawler import Crawler

from crawler.access.state import HostAccess
from crawler.frontier import FrontierUnavailable
from crawler.items import PageItem, SkipItem
from crawler.settings import heroes_settings
from crawler.validators import Validators, ValidatorStore, open_validators
from crawler.warc.capture import PageCapture
from documents import Document
from documents.base import utcnow
from documents.pivots import Pivots
from documents.service import Check, Service
from index.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 64
BATCH_AGE_S = 0.2
SERVICE_EVERY_S = 30.0
HEROES_FOREVER = "HEROES_FOREVER"  # also crawler.middlewares.conditional's switch


@dataclass
class _HostSeen:
    first: datetime
    last: datetime
    pages: int = 0
    up: bool = False
    status: int | None = None
    error: str | None = None
    title: str = ""
    server: str = ""
    root_title: bool = False
    errors: int = field(default=0)
    access: HostAccess = field(default_factory=HostAccess)
    tls: dict[str, str] | None = None
    pivots: Pivots = field(default_factory=Pivots)


class SpoolPipeline:
    def __init__(self, crawler: Crawler):
        self.store = Store(heroes_settings(crawler.settings))
        self.stats = crawler.stats
        self.hosts: dict[str, _HostSeen] = {}
        self._batch: list[Document] = []
        self._committed: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.capture = PageCapture.from_crawler(crawler)
        self.forever = crawler.settings.getbool(HEROES_FOREVER)
        self.validators: ValidatorStore | None = (
            open_validators(heroes_settings(crawler.settings)) if self.forever else None)
        self._seen: list[tuple[str, Validators]] = []  # validators of the batch in hand
        self._services_at = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, SkipItem):
            self._inc(f"heroes/skipped/{item.reason}")
            return item
        if not isinstance(item, PageItem):
            return item
        self._note_host(item)
        challenge = item.access is not None and item.access.challenge
        if challenge:
            self._inc(f"heroes/access/{item.access.state}")  # type: ignore[union-attr]
        else:
            self._inc("heroes/page_errors" if item.page.error else "heroes/pages")
        if self.capture is not None:
            self.capture.page(item.page)
        loop = asyncio.get_running_loop()
        if self._committed is None:
            self._committed = loop.create_future()
        committed = self._committed
        if not challenge and not self._unchanged(item):
            self._batch.append(item.page)
        if len(self._batch) >= BATCH_SIZE:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(BATCH_AGE_S, self._flush)
        await committed
        return item

    def _unchanged(self, item: PageItem) -> bool:
        """Under --forever: True if the page is the one already indexed (then not spooled);
        otherwise its validators wait for the batch to commit."""
        page = item.page
        if self.validators is None or page.error:
            return False
        if page.status == 304:
            self._inc("heroes/unchanged/not_modified")
            return True
        try:
            known = self.validators.get(page.url)
        except FrontierUnavailable as exc:
            # Indexed again rather than not at all: its document id makes that harmless.
            log.warning("validators unavailable, %s is indexed as changed: %s", page.url, exc)
            known = None
        if known is not None and known.sha256 == page.sha256:
            self._inc("heroes/unchanged/same_hash")
            return True
        self._seen.append((page.url, Validators(page.etag, page.last_modified, page.sha256)))
        return False

    def _remember(self, seen: list[tuple[str, Validators]]) -> None:
        try:
            self.validators.put(seen)  # type: ignore[union-attr]
        except FrontierUnavailable as exc:
            # The pages are committed; without their validators they are only indexed once
            # more when next fetched.
            log.warning("validators of %d pages not stored: %s", len(seen), exc)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        seen, self._seen = self._seen, []
        committed, self._committed = self._committed, None
        try:
            if self.capture is not None:
                self.capture.sync()
            if batch:
                self.store.append(batch)
            if self.validators is not None:
                self._remember(seen)
            if self.forever and time.monotonic() - self._services_at >= SERVICE_EVERY_S:
                self._append_services()
        except Exception as exc:
            if committed is not None and not committed.done():
                committed.set_exception(exc)
            raise
        if committed is not None and not committed.done():
            committed.set_result(None)

    def _note_host(self, item: PageItem) -> None:
        page = item.page
        host = page.host or (urlsplit(page.url).hostname or "")
        seen = self.hosts.get(host)
        if seen is None:
            seen = self.hosts[host] = _HostSeen(first=page.fetched_at, last=page.fetched_at)
        seen.last = max(seen.last, page.fetched_at)
        if page.error:
            seen.errors += 1
            seen.error = seen.error or page.error
            return
        if item.access is not None:
            seen.access.note(item.access, page.fetched_at)
        if item.tls:
            seen.tls = item.tls
        if item.access is not None and item.access.challenge:
            seen.up = True
            seen.status = seen.status or page.status
            return
        seen.pages += 1
        seen.up = True
        seen.status = seen.status or page.status
        seen.server = seen.server or item.server
        seen.pivots = seen.pivots.union(page.pivots)
        is_root = urlsplit(page.url).path in ("", "/")
        if page.title and (is_root or not seen.title) and not seen.root_title:
            seen.title, seen.root_title = page.title, is_root

    def close_spider(self) -> None:
        self._flush()
        if self.capture is not None:
            self.capture.close()
        self._append_services()
        if self.validators is not None:
            self.validators.close()
        self.store.close()

    def _append_services(self) -> None:
        """One ``service`` document per host seen since the last call, with this check."""
        self._services_at = time.monotonic()
        now = utcnow()
        services = []
        for host, seen in self.hosts.items():
            check = Check(
                at=now, up=seen.up, status=seen.status, error=None if seen.up else seen.error
            )
            services.append(
                Service(
                    host=host,
                    first_seen=seen.first,
                    last_seen=max(seen.last, now),
                    last_up=seen.last if seen.up else None,
                    up=seen.up,
                    title=seen.title,
                    server=seen.server,
                    page_count=seen.pages,
                    history=[check],
                    **seen.access.service_fields(now),
                    tls=seen.tls,
                    pivots=seen.pivots,
                )
            )
        if services:
            self.store.append(services)
        if self.stats is not None:
            self.stats.inc_value("heroes/services", len(services))
            self.stats.inc_value("heroes/services_up", sum(1 for s in services if s.up))
        self.hosts.clear()
