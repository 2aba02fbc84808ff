"""``PolitenessMiddleware``: a downloader middleware that paces each onion the way real sites
(and their per-circuit limits) tolerate.

The rules live in :class:`crawler.access.throttle.HostThrottle`; this middleware applies them
to Scrapy's per-host download slot (its concurrency, its delay, and a pause by moving the
slot's last-request time forward) and retries a 429/503 itself, after the wait, instead of
at once (it sits nearer the downloader than RetryMiddleware, which never sees those).
A URL limited ``rate_limit_retries`` times in a row is handed on as it is. Counts
``heroes/throttle/limited``, ``heroes/throttle/retried``, ``heroes/throttle/gave_up``.

Failures (``process_exception``, before RetryMiddleware sees them): a host-level SOCKS error
(:class:`crawler.errors.SocksHostError`: the service is down or refused its address) takes
the host out for its back-off; until then its requests fail at once with
:class:`HostBackingOff`, without touching Tor (``heroes/hosts/down``,
``heroes/hosts/backing_off``). A connect timeout grows the host's connect timeout
(``heroes/connect/timed_out``); a failure RetryMiddleware will retry pauses the host first
(``heroes/throttle/retry_wait``). Every request carries its host's connect timeout in
``request.meta["heroes_connect_timeout"]`` (its download timeout stretched by as much as the
connect timeout grew), and the download handler reports how long a new stream took to open
in ``request.meta["heroes_connect_s"]``. Off when ``crawler.politeness`` is false (the
handler then uses ``connect_timeout_s`` as it is). Reads ``[crawler]`` politeness,
streams_per_circuit, host_delay_s, max_host_delay_s, rate_window_s, rate_limit_retries,
backoff_base_s, max_retry_after_s, connect_timeout_s, max_connect_timeout_s,
connect_timeout_growth, retry_backoff_s, max_retry_backoff_s, host_down_backoff_s,
max_host_down_backoff_s, read_timeout_s.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError, NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import ConnectionLost

from crawler.access.classify import retry_after_s
from crawler.access.throttle import NEWNYM_SENT, HostThrottle
from crawler.errors import ConnectTimeout, CrawlerError, SocksHostError
from crawler.settings import heroes_settings

log = logging.getLogger(__name__)

LIMITED_STATUSES = (429, 503)
RETRIES_KEY = "heroes_rate_retries"
CONNECT_TIMEOUT_KEY = "heroes_connect_timeout"
CONNECT_TIME_KEY = "heroes_connect_s"
# What RetryMiddleware retries among the failures of a Tor fetch.
RETRIED = (DownloadFailedError, DownloadTimeoutError, ConnectionLost)


class HostBackingOff(CrawlerError):
    """Not fetched: the service failed at host level a moment ago and is backing off."""

    def __init__(self, host: str, wait_s: float, reason: str):
        self.host = host
        self.wait_s = wait_s
        self.reason = reason
        super().__init__(
            f"not fetched: {host!r} is backing off for {wait_s:.0f} s more after: {reason}"
        )


class PolitenessMiddleware:
    def __init__(self, crawler: Crawler):
        self.options = heroes_settings(crawler.settings).crawler
        if not self.options.politeness:
            raise NotConfigured("crawler.politeness is off")
        self.crawler = crawler
        self.max_retries = crawler.settings.getint("RETRY_TIMES")
        self.hosts: dict[str, HostThrottle] = {}
        crawler.signals.connect(self._newnym, signal=NEWNYM_SENT)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def _key(self, request: Request) -> str:
        return str(request.meta.get("download_slot") or urlparse_cached(request).hostname or "")

    def _host(self, key: str) -> HostThrottle:
        if key not in self.hosts:
            self.hosts[key] = HostThrottle(self.options)
        return self.hosts[key]

    def _apply(self, key: str, now: float) -> None:
        engine = self.crawler.engine
        downloader = getattr(engine, "downloader", None) if engine is not None else None
        slot = downloader.slots.get(key) if downloader is not None else None
        if slot is None:
            return
        state = self._host(key)
        slot.concurrency = state.concurrency
        slot.delay = max(state.delay, 0.001 if state.paused_until > now else 0.0)
        if state.learned:
            slot.jitter = 0.0  # a learned limit is a floor: never go faster by chance
        if state.paused_until > now:
            slot.lastseen = max(slot.lastseen, state.paused_until - slot.delay)

    def process_request(self, request: Request, spider: Any = None) -> None:
        key = self._key(request)
        now = monotonic()
        state = self._host(key)
        if state.is_down(now):
            self._inc("heroes/hosts/backing_off")
            raise HostBackingOff(key, state.down_until - now, state.down_reason)
        request.meta[CONNECT_TIMEOUT_KEY] = state.connect_timeout
        grown = state.connect_timeout - self.options.connect_timeout_s
        if grown > 0:
            base = float(request.meta.get("download_timeout") or self.options.read_timeout_s)
            request.meta["download_timeout"] = max(base, self.options.read_timeout_s + grown)
        self._apply(key, now)
        return None

    def process_exception(
        self, request: Request, exception: Exception, spider: Any = None
    ) -> None:
        if isinstance(exception, HostBackingOff):
            return None
        key = self._key(request)
        state = self._host(key)
        now = monotonic()
        if isinstance(exception, SocksHostError):
            wait = state.service_down(now, str(exception))
            self._inc("heroes/hosts/down")
            state_of = "down" if exception.kind == "down" else "refusing its address"
            log.info("%s: the service is %s (%s); no request to it for %.0f s",
                     key, state_of, exception, wait)
            return None
        if isinstance(exception, ConnectTimeout):
            self._inc("heroes/connect/timed_out")
            timeout = state.connect_timed_out()
            log.info("%s: %s; its connect timeout is now %.0f s", key, exception, timeout)
        attempt = int(request.meta.get("retry_times", 0)) + 1
        retries = int(request.meta.get("max_retry_times", self.max_retries))
        if isinstance(exception, RETRIED) and not request.meta.get("dont_retry") \
                and attempt <= retries:
            wait = state.failed(now, attempt)
            self._inc("heroes/throttle/retry_wait")
            log.debug("%s: %s; waiting %.1f s before retrying", key, exception, wait)
            self._apply(key, now)
        return None

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        key = self._key(request)
        state = self._host(key)
        now = monotonic()
        opened = request.meta.get(CONNECT_TIME_KEY)
        if opened is not None:
            state.connected(float(opened))
        if response.status not in LIMITED_STATUSES:
            state.answered(now)
            self._apply(key, now)
            return response
        self._inc("heroes/throttle/limited")
        retries = int(request.meta.get(RETRIES_KEY, 0))
        header = response.headers.get(b"Retry-After", b"") or b""
        wait = state.limited(now, retry_after_s(header.decode("latin-1")))
        self._apply(key, now)
        if retries >= self.options.rate_limit_retries:
            self._inc("heroes/throttle/gave_up")
            return response
        log.info("%s answered %d: waiting %.1f s, then one request every %.2f s",
                 key, response.status, wait, state.delay)
        self._inc("heroes/throttle/retried")
        retry = request.replace(dont_filter=True)
        retry.meta[RETRIES_KEY] = retries + 1
        return retry

    def _newnym(self, client: int = 0, **_: Any) -> None:
        for state in self.hosts.values():
            state.newnym()
        now = monotonic()
        for key in self.hosts:
            self._apply(key, now)
