"""Onion-only scope: what may enter the frontier and what may be fetched.

A URL is in scope when it is http(s) and its host is a valid v3 onion address (the checksum
is checked: a mistyped address never enters the frontier), or, with
``crawler.allow_clearnet``, any host. Two guards use the same rule:

* ``OnionScopeSpiderMiddleware`` filters the requests a spider yields (the frontier gate);
* ``OnionScopeDownloaderMiddleware`` refuses everything else right before download, which
  also catches redirects (they skip spider middlewares): a redirect to a clearnet host is
  dropped and counted, never fetched.

Each drop is counted in the stats as ``heroes/scope/<reason>``. Reads ``[crawler]``
``allow_clearnet``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from crawler.settings import heroes_settings
from identifiers.onion import is_valid_onion


class OutOfScope(IgnoreRequest):
    """A request outside the crawl's scope; ``reason`` says which rule refused it."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"out of scope ({reason}): {url[:200]!r}")


def scope_problem(url: str, allow_clearnet: bool = False) -> str | None:
    """Why ``url`` may not be fetched (a short reason), or None if it may."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "malformed"
    if parts.scheme not in ("http", "https"):
        return "scheme"
    if not host:
        return "no_host"
    if host.endswith(".onion"):
        return None if is_valid_onion(host) else "bad_onion"
    return None if allow_clearnet else "clearnet"


class _ScopeBase:
    def __init__(self, crawler: Crawler):
        self.allow_clearnet = heroes_settings(crawler.settings).crawler.allow_clearnet
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _check(self, request: Request) -> str | None:
        reason = scope_problem(request.url, self.allow_clearnet)
        if reason and self.stats is not None:
            self.stats.inc_value(f"heroes/scope/{reason}")
        return reason


class OnionScopeSpiderMiddleware(_ScopeBase):
    """Only in-scope requests reach the frontier."""

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for entry in result:
            if isinstance(entry, Request) and self._check(entry):
                continue
            yield entry

    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterable[Any]:
        for entry in result:
            if isinstance(entry, Request) and self._check(entry):
                continue
            yield entry

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for entry in start:
            if isinstance(entry, Request) and self._check(entry):
                continue
            yield entry


class OnionScopeDownloaderMiddleware(_ScopeBase):
    """The last gate before the network: nothing out of scope is ever downloaded."""

    def process_request(self, request: Request) -> None:
        reason = self._check(request)
        if reason:
            raise OutOfScope(request.url, reason)
