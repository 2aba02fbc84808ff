"""``Frontier``: a Scrapy scheduler whose queue and seen-set live in the job's SQLite file.

Scrapy's own JOBDIR queues write their bookkeeping on a clean shutdown only; after a SIGKILL
they may have lost requests that the dupefilter already remembers, so those pages would
never be fetched. Here a request is recorded (deduplicated by fingerprint) in one commit
when it is scheduled and marked done when its page or skip item has passed the pipelines
(``item_scraped``/``item_dropped``) or its redirect chain ended in a duplicate
(``request_dropped``). Whatever was not done is queued again on the next run with the same
job. Order is priority first (breadth-first via DEPTH_PRIORITY), then arrival. Reads the
job directory from :mod:`crawler.settings`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from pathlib import Path
from typing import Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.httpobj import urlparse_cached

from crawler.jobstate import JobState
from crawler.settings import HEROES_JOB_DIR

log = logging.getLogger(__name__)


def job_db(crawler: Crawler) -> Path:
    return Path(crawler.settings[HEROES_JOB_DIR]) / "job.sqlite"


class Frontier:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.state = JobState(job_db(crawler))
        self._heap: list[tuple[int, int, int, Request]] = []
        self._tie = itertools.count()
        self._spider: Spider | None = None
        self._fingerprinter = crawler.request_fingerprinter
        crawler.signals.connect(self._item_done, signal=signals.item_scraped)
        crawler.signals.connect(self._item_done, signal=signals.item_dropped)
        crawler.signals.connect(self._request_dropped, signal=signals.request_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def fingerprint(self, request: Request) -> str:
        return self._fingerprinter.fingerprint(request).hex()

    def fingerprint_url(self, url: str) -> str:
        return self.fingerprint(Request(url))

    def open(self, spider: Spider) -> None:
        self._spider = spider
        restored = 0
        for row in self.state.pending():
            callback = getattr(spider, row.callback) if row.callback else None
            errback = getattr(spider, row.errback) if row.errback else None
            request = Request(
                row.url,
                callback=callback,
                errback=errback,
                priority=row.priority,
                meta={"depth": row.depth},
            )
            self._push(request, row.seq)
            restored += 1
        if restored:
            log.info("resuming job: %d requests still to do", restored)

    def close(self, reason: str) -> None:
        self.state.close()

    def has_pending_requests(self) -> bool:
        return bool(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def _push(self, request: Request, seq: int) -> None:
        heapq.heappush(self._heap, (-request.priority, seq, next(self._tie), request))

    def enqueue_request(self, request: Request) -> bool:
        host = urlparse_cached(request).hostname or ""
        seq = self.state.add(
            self.fingerprint(request),
            request.url,
            host,
            int(request.meta.get("depth", 0)),
            request.priority,
            _name(request.callback),
            _name(request.errback),
            force=request.dont_filter,
        )
        if seq is None:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("heroes/frontier/duplicate")
            return False
        self._push(request, seq)
        return True

    def next_request(self) -> Request | None:
        if not self._heap:
            return None
        return heapq.heappop(self._heap)[3]

    def _item_done(self, item: Any, **_: Any) -> None:
        urls = getattr(item, "request_urls", None)
        if urls:
            self.state.mark_done(self.fingerprint_url(u) for u in urls)

    def _request_dropped(self, request: Request, **_: Any) -> None:
        # A redirect to an already known URL ends its chain here: the chain is done.
        chain = request.meta.get("redirect_urls")
        if chain:
            self.state.mark_done(self.fingerprint_url(u) for u in chain)


def _name(callback: Any) -> str | None:
    return getattr(callback, "__name__", None) if callback else None
