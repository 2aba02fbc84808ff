"""Per-host limits: at most ``crawler.max_pages_per_host`` requests per onion enter the frontier.

Counted in the job's state (:mod:`crawler.jobstate`), so the limit holds across resumed
runs of the same job. Depth is limited by Scrapy's DepthMiddleware (DEPTH_LIMIT from
``crawler.max_depth``, see :mod:`crawler.settings`). Drops are counted as
``heroes/limits/host_pages``. Reads ``[crawler]`` ``max_pages_per_host``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.utils.httpobj import urlparse_cached

from crawler.jobstate import JobState
from crawler.settings import HEROES_JOB_DIR, heroes_settings


class HostLimitsMiddleware:
    def __init__(self, crawler: Crawler):
        from pathlib import Path

        self.max_pages = heroes_settings(crawler.settings).crawler.max_pages_per_host
        self.state = JobState(Path(crawler.settings[HEROES_JOB_DIR]) / "job.sqlite")
        self.fingerprint = crawler.request_fingerprinter.fingerprint
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _over(self, entry: Any) -> bool:
        if not isinstance(entry, Request):
            return False
        host = urlparse_cached(entry).hostname or ""
        if self.state.host_count(host) < self.max_pages:
            return False
        if self.state.is_known(self.fingerprint(entry).hex()):
            return False  # already admitted (a retry or a duplicate the frontier drops anyway)
        if self.stats is not None:
            self.stats.inc_value("heroes/limits/host_pages")
        return True

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for entry in result:
            if not self._over(entry):
                yield entry

    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterable[Any]:
        for entry in result:
            if not self._over(entry):
                yield entry
