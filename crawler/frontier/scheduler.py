"""``Frontier``: the Scrapy scheduler that leases its requests from the frontier store.

The queue lives in the store (:func:`crawler.frontier.open_store`); this process holds only a
window of at most ``frontier.window`` leased URLs, the requests it must keep as objects
(retries, redirects and queue waits of URLs it holds, whose meta the store does not keep),
and the keys of its leases, so its memory does not grow with the queue. A request is pushed
(deduplicated on its canonical URL) when the spider yields it, leased when Scrapy asks for
the next one, renewed every third of ``frontier.lease_s`` while in flight, and acked when its
page or skip item has passed the pipelines (``item_scraped``/``item_dropped``) or its
redirect chain ended in a duplicate (``request_dropped``). A crawler that dies loses its
leases after ``frontier.lease_s`` (at the next start on the same machine, at once), and its
URLs are crawled again, so nothing is lost; two crawlers on one frontier never hold the
same URL.

When the store is unavailable (Redis down) the crawl pauses: one warning, new requests and
acks wait in memory, the store is tried every ``frontier.pause_check_s``, and when it is back
the waiting pushes go first, then the acks, and crawling resumes with a second message.
A crawler leases only as many URLs as its downloader can start (so it does not hold hosts'
lease slots that other crawlers could use), and after an empty answer it asks the store again
every ``frontier.poll_s`` instead of waiting for Scrapy's 5 s heartbeat.
Counts ``heroes/frontier/<outcome>`` (added, duplicate, trap, host_cap, bad),
``heroes/frontier/leased``, ``heroes/frontier/local`` (kept in the process),
``heroes/frontier/paused``, and where a crawler waits: ``heroes/frontier/lease_calls``,
``heroes/frontier/lease_empty`` (``lease_empty_idle``: with nothing in flight),
``heroes/frontier/wait_s`` (from an empty answer to the next lease),
``heroes/frontier/wakeups``.
Reads ``[frontier]`` and the job from :mod:`crawler.settings`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self, TypeVar

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler

from crawler.frontier import open_store
from crawler.frontier.canonical import BadUrl
from crawler.frontier.store import (
    FrontierCounts,
    FrontierStore,
    FrontierUnavailable,
    Leased,
    NewUrl,
    Outcome,
)
from crawler.jobstate import JobState
from crawler.settings import HEROES_JOB, HEROES_JOB_DIR, heroes_settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Request meta a request rebuilt from the store may lack (DepthMiddleware's depth is kept;
# Scrapy's start-request mark only orders start requests); any other meta keeps the request
# in this process.
_PLAIN_META = frozenset({"depth", "is_start_request"})


def job_db(crawler: Crawler) -> Path:
    return Path(crawler.settings[HEROES_JOB_DIR]) / "job.sqlite"


def worker_id() -> str:
    """A crawler's name in the store: machine, process, and a nonce against pid reuse."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def dead_here(worker: str) -> bool:
    """True if ``worker`` ran on this machine and its process is gone."""
    host, _, rest = worker.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Frontier:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = heroes_settings(crawler.settings)
        self.options = settings.frontier
        self.worker = worker_id()
        self.state = JobState(job_db(crawler))
        self.store = open_store(settings, crawler.settings[HEROES_JOB], job_db(crawler))
        self._spider: Spider | None = None
        self._window: deque[Leased] = deque()
        self._local: deque[Request] = deque()
        self._held: set[str] = set()
        self._unsent: deque[Request] = deque()  # pushes waiting for the store
        self._unacked: list[str] = []  # acks waiting for the store
        self._paused_at: float | None = None
        self._retry_at = 0.0
        self._renewer: Any = None
        self._empty_since: float | None = None  # since when leases come back empty
        self._waker: Any = None  # the pending wake-up call after an empty lease
        crawler.signals.connect(self._item_done, signal=signals.item_scraped)
        crawler.signals.connect(self._item_done, signal=signals.item_dropped)
        crawler.signals.connect(self._request_dropped, signal=signals.request_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _inc(self, key: str, by: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"heroes/frontier/{key}", by)

    # -- the store, or the pause ------------------------------------------------------------

    def _call(self, op: Callable[[], T]) -> T | None:
        """``op()`` on the store; None (and the crawl paused) when the store is unavailable."""
        if self._paused_at is not None and time.monotonic() < self._retry_at:
            return None
        try:
            result = op()
        except FrontierUnavailable as exc:
            self._retry_at = time.monotonic() + self.options.pause_check_s
            if self._paused_at is None:
                self._paused_at = time.monotonic()
                self._inc("paused")
                log.warning("frontier store unavailable, crawling paused (trying again every "
                            "%g s): %s", self.options.pause_check_s, exc)
            return None
        if self._paused_at is not None:
            paused, self._paused_at = time.monotonic() - self._paused_at, None
            log.warning("frontier store is back after %.1f s, crawling resumed", paused)
        return result

    def _flush(self) -> bool:
        """Send what waited during a pause: pushes before acks, so no page is done before its
        links are queued. False if the store failed again."""
        while self._unsent:
            request = self._unsent[0]
            if self._call(lambda r=request: self._push(r)) is None:
                return False
            self._unsent.popleft()
        if self._unacked:
            keys = list(self._unacked)
            if self._call(lambda: self.store.ack(self.worker, keys)) is None:
                return False
            self._unacked.clear()
        return True

    # -- Scrapy's scheduler interface ------------------------------------------------------

    def open(self, spider: Spider) -> None:
        from twisted.internet.task import LoopingCall

        self._spider = spider
        self._renewer = LoopingCall(self._renew)
        self._renewer.start(self.options.lease_s / 3, now=False)
        for holder in self.store.holders():
            if dead_here(holder):
                released = self.store.release(holder)
                log.info("released %d leases of %s, a crawler that died on this machine",
                         released, holder)
        legacy = self.state.legacy_requests()
        if legacy:
            self.store.push([NewUrl(r.url, r.depth, r.priority, r.callback, r.errback)
                             for r in legacy])
            self.state.drop_legacy_requests()
        pending = self.store.pending()
        if pending:
            log.info("frontier: %d requests to do (due or leased)", pending)

    def close(self, reason: str) -> None:
        if self._renewer is not None and self._renewer.running:
            self._renewer.stop()
        if self._waker is not None and self._waker.active():
            self._waker.cancel()
        self._flush()
        if self._held and self._paused_at is None:
            held = list(self._held)
            released = self._call(lambda: self.store.release(self.worker, held))
            if released:
                log.info("frontier: released %d unfinished leases", released)
        if self._unsent or self._unacked:
            log.warning("frontier store unavailable at close: %d pushes and %d acks not sent "
                        "(their pages are fetched again when the leases run out)",
                        len(self._unsent), len(self._unacked))
        stats = self.crawler.stats.get_stats() if self.crawler.stats is not None else {}
        log.info("frontier: %d added, %d leased, %d kept in this process (retries, redirects)",
                 stats.get("heroes/frontier/added", 0), stats.get("heroes/frontier/leased", 0),
                 stats.get("heroes/frontier/local", 0))
        log.info("frontier: %d lease calls, %d empty (%d with nothing in flight), %.1f s "
                 "waited for a lease", stats.get("heroes/frontier/lease_calls", 0),
                 stats.get("heroes/frontier/lease_empty", 0),
                 stats.get("heroes/frontier/lease_empty_idle", 0),
                 stats.get("heroes/frontier/wait_s", 0.0))
        self.store.close()
        self.state.close()

    def has_pending_requests(self) -> bool:
        if self._local or self._window or self._paused_at is not None or self._unsent:
            return True
        work = self._call(lambda: self.store.has_work(exclude=self.worker))
        return work is None or work

    def __len__(self) -> int:
        return len(self._local) + len(self._window)

    def enqueue_request(self, request: Request) -> bool:
        if self._paused_at is not None:
            if self._keep_local(request):
                self._local.append(request)
            else:
                self._unsent.append(request)
            return True
        result = self._call(lambda: self._push(request))
        if result is None:
            self._unsent.append(request)
            return True
        return result

    def _keep_local(self, request: Request) -> bool:
        return (request.dont_filter or request.method != "GET" or bool(request.body)
                or not set(request.meta) <= _PLAIN_META)

    def _push(self, request: Request) -> bool:
        local = self._keep_local(request)
        key = _key(self.store, request.url) if local else None
        if request.dont_filter and key is not None and key in self._held:
            self._local.append(request)  # a retry or a wait of a URL this crawler holds
            self._inc("local")
            return True
        item = NewUrl(request.url, int(request.meta.get("depth", 0)), request.priority,
                      _name(request.callback), _name(request.errback))
        outcome = self.store.push([item], lease_to=self.worker if local else None)[0]
        self._inc(outcome.value)
        if outcome is not Outcome.ADDED:
            return False
        if key is not None:
            self._held.add(key)
            self._local.append(request)
            self._inc("local")
        return True

    def next_request(self) -> Request | None:
        if self._local:
            return self._local.popleft()
        if (self._unsent or self._unacked) and not self._flush():
            return None
        if not self._window:
            size = self._lease_size()
            leased = self._call(lambda: self.store.lease(self.worker, size))
            self._inc("lease_calls")
            if not leased:
                self._lease_empty()
                self._wake_later()
                return None
            self._lease_full()
            self._inc("leased", len(leased))
            self._window.extend(leased)
            self._held.update(entry.key for entry in leased)
        return self._request(self._window.popleft())

    def _engine(self) -> Any:
        try:
            return self.crawler.engine
        except RuntimeError:  # Scrapy sets Crawler.engine only when the crawl starts
            return None

    def _in_flight(self) -> int:
        engine = self._engine()
        return len(engine.downloader.active) if engine is not None else 0

    def _lease_size(self) -> int:
        """As many URLs as the downloader can start now (at most ``frontier.window``): a URL
        leased ahead counts against its host's lease cap for every crawler while it waits
        here, so leasing far ahead starves the other crawlers of hosts."""
        engine = self._engine()
        if engine is None:
            return self.options.window
        free = engine.downloader.total_concurrency - len(engine.downloader.active)
        return max(1, min(self.options.window, free))

    def _wake_later(self) -> None:
        """After an empty lease, ask the engine for requests again in ``frontier.poll_s``.
        Scrapy asks again by itself only when a download ends or on its 5 s heartbeat, so a
        crawler with nothing in flight would sit idle that long while other crawlers queue
        URLs it could take."""
        if self._waker is not None and self._waker.active():
            return
        from twisted.internet import reactor

        self._waker = reactor.callLater(self.options.poll_s, self._wake)  # type: ignore[attr-defined]

    def _wake(self) -> None:
        engine = self._engine()
        slot = getattr(engine, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            self._inc("wakeups")
            nextcall.schedule()

    def _lease_empty(self) -> None:
        # Counted to see where a crawler waits: an empty answer while nothing is in flight is
        # a crawler with nothing to do although (maybe) others keep queueing URLs.
        self._inc("lease_empty")
        if not self._in_flight():
            self._inc("lease_empty_idle")
        if self._empty_since is None:
            self._empty_since = time.monotonic()

    def _lease_full(self) -> None:
        if self._empty_since is not None:
            waited, self._empty_since = time.monotonic() - self._empty_since, None
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("heroes/frontier/wait_s", round(waited, 3))

    def _request(self, entry: Leased) -> Request:
        spider = self._spider
        callback = getattr(spider, entry.callback, None) if entry.callback else None
        errback = getattr(spider, entry.errback, None) if entry.errback else None
        return Request(entry.url, callback=callback, errback=errback, priority=entry.priority,
                       meta={"depth": entry.depth})

    def _renew(self) -> None:
        # A timer, not next_request: Scrapy stops asking for requests while its slots are full.
        # With nothing held it still says this crawler is alive (the hosts it is with stay
        # its own; those of a crawler that stopped saying so are free).
        held = list(self._held)
        self._call(lambda: self.store.renew(self.worker, held))

    # -- for other components (middlewares, status) ---------------------------------------

    def defer_host(self, host: str, delay_s: float) -> None:
        """No crawler on this frontier leases ``host``'s URLs for ``delay_s`` (a Retry-After,
        a service that is down); nothing happens while the store is unavailable."""
        self._call(lambda: self.store.defer_host(host, delay_s))

    def counts(self) -> FrontierCounts | None:
        """The frontier's counts, or None while the store is unavailable."""
        return self._call(self.store.counts)

    # -- done ------------------------------------------------------------------------------

    def _done(self, urls: Iterable[str]) -> None:
        keys = [k for k in (_key(self.store, url) for url in urls) if k is not None]
        self._held.difference_update(keys)
        self._unacked.extend(keys)
        self._flush()

    def _item_done(self, item: Any, **_: Any) -> None:
        urls = getattr(item, "request_urls", None)
        if urls:
            self._done(urls)
        page = getattr(item, "page", None)
        if page is not None and page.sha256:
            # Only now, after the page's links were queued and the page spooled and acked: a
            # crawler killed sooner fetches it again as new content, links and media included.
            self.state.record_content(page.sha256)

    def _request_dropped(self, request: Request, **_: Any) -> None:
        # A redirect to an already known URL ends its chain here: the chain is done.
        chain = request.meta.get("redirect_urls")
        if chain:
            self._done(chain)


def _key(store: FrontierStore, url: str) -> str | None:
    try:
        return store.key_of(url)
    except BadUrl:
        return None


def _name(callback: Any) -> str | None:
    return getattr(callback, "__name__", None) if callback else None
