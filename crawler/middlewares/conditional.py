"""``ConditionalRequestMiddleware``: a page fetched again asks whether it changed.

A downloader middleware of ``crawl --forever`` (on when the Scrapy setting
``HEROES_FOREVER`` is true, else ``NotConfigured``): a page request for a URL that is in the
validator table (:mod:`crawler.validators`) is sent with ``If-None-Match`` and
``If-Modified-Since`` from the page's stored ``ETag``/``Last-Modified``; a server that has
nothing new answers 304, which the pipeline counts as unchanged and does not index. Media
downloads and requests that carry their own conditional headers are left alone. When the
table cannot be read the request goes out unconditional (the body hash still catches an
unchanged page). Counts ``heroes/conditional/sent``. Reads ``[frontier]`` and ``data_dir``
through :func:`crawler.validators.open_validators`.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.frontier import FrontierUnavailable
from crawler.pipelines import HEROES_FOREVER
from crawler.settings import heroes_settings
from crawler.validators import ValidatorStore, open_validators

log = logging.getLogger(__name__)

# Request meta of a media download (crawler.spiders.onion.MEDIA_CAP): never conditional.
_MEDIA_META = "heroes_media_cap"
# Request meta set here: the SHA-256 of the page's body when it was last indexed.
KNOWN_SHA256_META = "heroes_known_sha256"


class ConditionalRequestMiddleware:
    def __init__(self, crawler: Crawler, validators: ValidatorStore):
        self.stats = crawler.stats
        self.validators = validators
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool(HEROES_FOREVER):
            raise NotConfigured("conditional requests are for crawl --forever")
        return cls(crawler, open_validators(heroes_settings(crawler.settings)))

    def process_request(self, request: Request, spider: Any = None) -> None:
        if request.method != "GET" or _MEDIA_META in request.meta:
            return
        if b"If-None-Match" in request.headers or b"If-Modified-Since" in request.headers:
            return
        try:
            known = self.validators.get(request.url)
        except FrontierUnavailable as exc:
            log.debug("no validators for %s: %s", request.url, exc)
            return
        if known is None:
            return
        # The body hash last indexed: the crawl service's scheduler tells changed pages apart.
        request.meta[KNOWN_SHA256_META] = known.sha256
        headers = known.headers()
        for name, value in headers.items():
            request.headers[name] = value
        if headers and self.stats is not None:
            self.stats.inc_value("heroes/conditional/sent")

    def _closed(self, **_: Any) -> None:
        self.validators.close()
