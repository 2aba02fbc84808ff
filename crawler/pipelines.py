"""``SpoolPipeline``: page items become ``page`` documents in the spool; hosts become ``service``s.

Outcomes per item: a ``PageItem`` is appended to the spool (in small batches, and the item
is released only once its batch is committed, so the frontier never marks a page done that
is not on disk); a ``SkipItem`` is counted (``heroes/skipped/<reason>``). When the spider
closes, one ``service`` document per host seen is appended: first/last seen, up or down
(a host is up if any page answered with an HTTP status), title of its front page, Server
header, page count, and this crawl's check in its history. Counts ``heroes/pages``,
``heroes/page_errors``, ``heroes/services``. Reads ``data_dir`` (the Store) and
``[index]`` through :class:`index.store.Store`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy.crawler import Crawler

from crawler.items import PageItem, SkipItem
from crawler.settings import heroes_settings
from index.documents import Document
from index.documents.base import utcnow
from index.documents.service import Check, Service
from index.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 64
BATCH_AGE_S = 0.2


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


class SpoolPipeline:
    def __init__(self, crawler: Crawler):
        self.store = Store(heroes_settings(crawler.settings))
        self.stats = crawler.stats
        self.hosts: dict[str, _HostSeen] = {}
        self._batch: list[Document] = []
        self._committed: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

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
        self._inc("heroes/page_errors" if item.page.error else "heroes/pages")
        loop = asyncio.get_running_loop()
        if self._committed is None:
            self._committed = loop.create_future()
        committed = self._committed
        self._batch.append(item.page)
        if len(self._batch) >= BATCH_SIZE:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(BATCH_AGE_S, self._flush)
        await committed
        return item

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        committed, self._committed = self._committed, None
        try:
            if batch:
                self.store.append(batch)
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
        seen.pages += 1
        seen.up = True
        seen.status = seen.status or page.status
        seen.server = seen.server or item.server
        is_root = urlsplit(page.url).path in ("", "/")
        if page.title and (is_root or not seen.title) and not seen.root_title:
            seen.title, seen.root_title = page.title, is_root

    def close_spider(self) -> None:
        self._flush()
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
                )
            )
        if services:
            self.store.append(services)
        if self.stats is not None:
            self.stats.set_value("heroes/services", len(services))
            self.stats.set_value("heroes/services_up", sum(1 for s in services if s.up))
        self.store.close()
