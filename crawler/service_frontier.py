"""``ServiceFrontier``: the frontier scheduler of ``crawl --forever``, which never runs dry
and puts every finished URL back on the frontier for its next visit.

A finished URL is acked with ``refetch_after_s`` (:func:`refetch_after_s`) and requeued in
its class (:mod:`crawler.frontier.store`): ``CHANGED_PRIORITY`` when its body differs from
the one last indexed (the hash :mod:`crawler.middlewares.conditional` put on the request),
else ``STALE_PRIORITY``; both behind new URLs (priority 0), across all hosts, so new services
go first, then changed pages, then stale re-visits, and a host that is slow to serve
(rate-limited, adaptive delay) still gets its new pages before its re-visits. Due
again: a front page (the service's re-check) after ``crawler.recrawl_interval_h`` while the
service answers, backing off by ``crawler.dead_backoff_base`` per failed check in a row and
capped by ``crawler.max_recheck_s``; a deep page after ``crawler.refetch_interval_s``; a page whose
service failed at host level (descriptor not found, introduction or rendezvous failed, bad
address, connect timeout, host backing off: never a NEWNYM) after the host's backoff, and
the host is deferred on the frontier for as long, so no crawler leases its other URLs
meanwhile. A deep page of a mirror whose group is crawled deeply through another service
(:mod:`crawler.uptime_only`) is not fetched again: when it comes due it is marked done
unfetched (counted ``heroes/service/mirror_skipped``); its front page keeps its re-checks.
A URL refused before any network use (out of scope) is done for good. Acks that
wait for the store during a pause keep their intervals. The crawl ends only when it is
stopped (SIGTERM), never because nothing is due: Scrapy asks for due URLs every few seconds.
Counts ``heroes/service/host_failures`` and ``heroes/service/changed``. Reads ``[crawler]`` and what
:class:`crawler.frontier.scheduler.Frontier` reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler

from config.sections.crawler import CrawlerSettings
from crawler.errors import ConnectTimeout, OnionServiceDown, OnionServiceRefused
from crawler.frontier.scheduler import Frontier
from crawler.frontier.store import CHANGED_PRIORITY, STALE_PRIORITY
from crawler.items import PageItem
from crawler.middlewares.conditional import KNOWN_SHA256_META
from crawler.middlewares.politeness import HostBackingOff
from crawler.recrawl import recheck_after_s
from crawler.settings import heroes_settings
from crawler.uptime_only import UptimeOnly

# Failures of the service itself (crawler.errors' "down"/"refused" kinds), as the spider
# names them in a page's error ("<ExceptionName>: <message>").
# Re-checks of known services queue as stale re-visits, behind new URLs and changed pages.
RECHECK_PRIORITY = STALE_PRIORITY

HOST_LEVEL = frozenset(cls.__name__ for cls in (OnionServiceDown, OnionServiceRefused,
                                                 HostBackingOff, ConnectTimeout))


def is_front_page(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def host_failed(error: str | None) -> bool:
    return bool(error) and error.split(":", 1)[0] in HOST_LEVEL  # type: ignore[union-attr]


def changed(page: Any, response: Any) -> bool:
    """True if ``page`` was fetched again and its body differs from the one last indexed."""
    try:
        known = response.meta.get(KNOWN_SHA256_META) if response is not None else None
    except AttributeError:  # a response without its request
        return False
    return (known is not None and page.error is None and page.status != 304
            and bool(page.sha256) and page.sha256 != known)


def refetch_after_s(url: str, *, failed: bool, misses: int, options: CrawlerSettings) -> float:
    """When ``url`` is due again: ``misses`` is its service's failed checks in a row (this
    one included when ``failed``)."""
    if failed or is_front_page(url):
        return recheck_after_s(misses, options)
    return options.refetch_interval_s


class ServiceFrontier(Frontier):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.crawl_options = heroes_settings(crawler.settings).crawler
        self._misses: dict[str, int] = {}
        # Acks to send, by (interval, priority class).
        self._later: dict[tuple[float, int], list[str]] = {}
        self.uptime_only = UptimeOnly(self.store)

    def has_pending_requests(self) -> bool:
        return True

    def next_request(self) -> Any:
        if self._later:
            self._flush()
        while True:
            request = super().next_request()
            if request is None or is_front_page(request.url):
                return request
            if (urlsplit(request.url).hostname or "") not in self.uptime_only.hosts():
                return request
            self._done([request.url])
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("heroes/service/mirror_skipped")

    def _item_done(self, item: Any, response: Any = None, **_: Any) -> None:
        urls = getattr(item, "request_urls", None)
        if not urls:
            return
        if not isinstance(item, PageItem):
            self._done(urls)
            return
        page = item.page
        host = page.host or (urlsplit(page.url).hostname or "")
        failed = host_failed(page.error)
        if failed:
            self._misses[host] = self._misses.get(host, 0) + 1
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("heroes/service/host_failures")
        elif page.error is None and is_front_page(page.url):
            self._misses[host] = 0
        misses = self._misses.get(host, 0)
        after = refetch_after_s(urls[0], failed=failed, misses=misses,
                                options=self.crawl_options)
        if failed:
            self._call(lambda: self.store.defer_host(host, after))
        priority = CHANGED_PRIORITY if changed(page, response) else STALE_PRIORITY
        if self.crawler.stats is not None and priority == CHANGED_PRIORITY:
            self.crawler.stats.inc_value("heroes/service/changed")
        self._done_later(urls, after, priority)

    def _done_later(self, urls: Iterable[str], after: float, priority: int) -> None:
        keys = [k for k in (self._key_of(url) for url in urls) if k is not None]
        self._held.difference_update(keys)
        self._later.setdefault((after, priority), []).extend(keys)
        self._flush()

    def _key_of(self, url: str) -> str | None:
        from crawler.frontier.canonical import BadUrl

        try:
            return self.store.key_of(url)
        except BadUrl:
            return None

    def _flush(self) -> bool:
        if not super()._flush():
            return False
        for after, priority in list(self._later):
            keys = self._later[after, priority]
            if self._call(lambda k=keys, a=after, p=priority: self.store.ack(  # type: ignore[misc]
                    self.worker, k, refetch_after_s=a, priority=p)) is None:
                return False
            del self._later[after, priority]
        return True
