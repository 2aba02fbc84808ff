"""Run crawl jobs in this process: the crawl role on Scrapy's asyncio reactor.

:class:`CrawlRole` is one crawl job as a role: entry launches or attaches the Tor clients
(:class:`crawler.tor.client.TorPool`) before anything else, so a Tor that cannot be reached
stops the command before work starts, and builds the Scrapy crawler of
:class:`crawler.spiders.onion.OnionSpider`; ``run(stop)`` crawls until the frontier is empty
(or ``max_pages``, or ``stop``: then the pages in flight finish), reporting progress every
``progress_every_s``; exit closes the Tor clients and leaves :attr:`CrawlRole.summary`. The
job's frontier lives in ``<data_dir>/crawl-jobs/<job>``; without a job name a fresh one is
used and removed afterwards. With ``forever`` the role is the crawl service: its scheduler
(:class:`crawler.service_frontier.ServiceFrontier`) puts every finished URL back for its next
visit and never runs dry, pages fetched again are conditional requests
(:mod:`crawler.middlewares.conditional`) and unchanged ones are not indexed again
(:mod:`crawler.pipelines`), so ``run(stop)`` crawls until ``stop``; then the pages in flight
finish and the leases go back to the frontier. Twisted's reactor runs once per process, so
every role of a crawling process runs inside :func:`run_on_scrapy_loop`; ``run_crawl`` runs
a crawl alone (the benchmark). Reads ``[crawler]``, ``[tor]`` and ``data_dir``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from config import Settings
from crawler.settings import scrapy_settings
from crawler.tor.client import TorEndpoint, TorPool
from crawler.tor.metrics import forget_circuits, watch_circuits
from telemetry.sources import forget_crawl, watch_crawl

log = logging.getLogger(__name__)

JOBS_DIR = "crawl-jobs"
SERVICE_JOB = "service"


@dataclass
class CrawlSummary:
    job: str
    pages: int
    page_errors: int
    services: int
    services_up: int
    skipped: dict[str, int]
    media_hashed: int
    media_errors: int
    unchanged: int
    seconds: float
    crawl_seconds: float
    finish_reason: str
    frontier: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[dict[str, Any]], None]
T = TypeVar("T")


def service_values(values: dict[str, Any]) -> dict[str, Any]:
    """The Scrapy settings that make a crawl the never-ending service (see the module)."""
    from crawler.pipelines import HEROES_FOREVER

    middlewares = dict(values.get("DOWNLOADER_MIDDLEWARES") or {})
    middlewares["crawler.middlewares.conditional.ConditionalRequestMiddleware"] = 560
    return {"SCHEDULER": "crawler.service_frontier.ServiceFrontier",
            "DOWNLOADER_MIDDLEWARES": middlewares, HEROES_FOREVER: True}


def job_dir(settings: Settings, job: str) -> Path:
    if not job or "/" in job or job.startswith("."):
        raise ValueError(f"job name {job!r} must be a plain name (letters, digits, - and _)")
    return Path(settings.data_dir) / JOBS_DIR / job


def _summary(
    stats: dict[str, Any], job: str, seconds: float, frontier: dict[str, int]
) -> CrawlSummary:
    skipped = {
        k.rsplit("/", 1)[1]: int(v) for k, v in stats.items() if k.startswith("heroes/skipped/")
    }
    return CrawlSummary(
        job=job,
        pages=int(stats.get("heroes/pages", 0)),
        page_errors=int(stats.get("heroes/page_errors", 0)),
        services=int(stats.get("heroes/services", 0)),
        services_up=int(stats.get("heroes/services_up", 0)),
        skipped=skipped,
        media_hashed=int(stats.get("heroes/media/hashed", 0)),
        media_errors=int(stats.get("heroes/media/error", 0)),
        unchanged=sum(int(v) for k, v in stats.items() if k.startswith("heroes/unchanged/")),
        seconds=round(seconds, 2),
        crawl_seconds=round(float(stats.get("elapsed_time_seconds", seconds)), 2),
        finish_reason=str(stats.get("finish_reason", "")),
        frontier=frontier,
    )


class CrawlRole:
    """One crawl job: ``async with CrawlRole(...) as crawl: await crawl.run(stop)``.

    ``endpoints`` skips Tor launch/attach (the caller manages its clients).
    """

    name = "crawl"

    def __init__(
        self,
        settings: Settings,
        seeds: Sequence[str],
        *,
        job: str | None = None,
        max_pages: int | None = None,
        progress: Progress | None = None,
        progress_every_s: float = 2.0,
        endpoints: list[TorEndpoint] | None = None,
        scrapy_extra: dict[str, Any] | None = None,
        forever: bool = False,
    ):
        self.settings = settings
        self.seeds = list(seeds)
        self.forever = forever
        # The service keeps its frontier: a nameless one is the installation's one service.
        job = job or (SERVICE_JOB if forever else None)
        self.job = job
        self.job_name = job or f"run-{int(time.time())}"
        self.directory = job_dir(settings, self.job_name)
        self.max_pages = max_pages
        self.progress = progress
        self.progress_every_s = progress_every_s
        self.endpoints = endpoints
        self.scrapy_extra = scrapy_extra
        self.summary: CrawlSummary | None = None
        self._pool: TorPool | None = None
        self._crawler: Any = None
        self._stats: dict[str, Any] = {}
        self._started = 0.0

    async def __aenter__(self) -> CrawlRole:
        from scrapy.crawler import Crawler

        from crawler.spiders.onion import OnionSpider

        self._started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        endpoints = self.endpoints
        if endpoints is None:
            self._pool = TorPool(self.settings.tor, Path(self.settings.data_dir))
            # In this thread on purpose: stem's launch timeout needs the main thread, and
            # nothing else runs before every role has opened.
            endpoints = self._pool.start()
        try:
            self._crawler = Crawler(OnionSpider, self._values(endpoints))
            crawler = self._crawler
            watch_crawl(self.job_name, lambda: _live_stats(crawler), len(endpoints))
            watch_circuits(self.job_name, endpoints, self._pool,
                           self.settings.tor.control_password.get_secret_value())
            if self.progress is not None:
                _install_progress(self._crawler, self.progress, self.progress_every_s,
                                  self._started)
        except BaseException:
            self._close_pool()
            raise
        return self

    def _values(self, endpoints: list[TorEndpoint]) -> dict[str, Any]:
        values = scrapy_settings(self.settings, endpoints, job=self.job_name,
                                 job_dir=self.directory, max_pages=self.max_pages)
        if self.forever:
            values.update(service_values(values))
        values.update(self.scrapy_extra or {})
        return values

    async def run(self, stop: asyncio.Event) -> None:
        crawler = self._crawler
        crawl = asyncio.ensure_future(crawler.crawl_async(seeds=self.seeds))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([crawl, stopped], return_when=asyncio.FIRST_COMPLETED)
            if not crawl.done():
                log.info("stopping the crawl: the requests in flight finish first")
                await crawler.stop_async()
            await crawl
        finally:
            stopped.cancel()
            self._stats = crawler.stats.get_stats() if crawler.stats else {}

    async def __aexit__(self, *exc: object) -> None:
        from crawler.jobstate import JobState

        forget_crawl(self.job_name)
        forget_circuits(self.job_name)
        self._close_pool()
        state = JobState(self.directory / "job.sqlite")
        frontier = state.counts()
        state.close()
        if self.job is None:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.summary = _summary(self._stats, self.job_name,
                                time.monotonic() - self._started, frontier)

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def run_on_scrapy_loop(settings: Settings, main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on Scrapy's asyncio reactor and return its result; blocking.

    The reactor serves one call per process. Signals are the caller's to handle (the roles
    runner sets its stop event on SIGTERM/SIGINT).
    """
    from scrapy.crawler import AsyncCrawlerProcess

    directory = Path(settings.data_dir) / JOBS_DIR
    process = AsyncCrawlerProcess(
        scrapy_settings(settings, [], job="-", job_dir=directory), install_root_handler=False
    )
    # Scrapy opens its loggers fully when it does not own the root handler; keep ours.
    logging.getLogger("scrapy").setLevel(settings.log_level)
    # Imported only now: importing it before the process exists installs the wrong reactor.
    from twisted.internet import reactor

    task = asyncio.get_event_loop().create_task(main())
    task.add_done_callback(lambda _: reactor.callLater(0, reactor.stop))
    process.start(stop_after_crawl=False, install_signal_handlers=False)
    return task.result()


def run_crawl(settings: Settings, seeds: Sequence[str], **options: Any) -> CrawlSummary:
    """Crawl from ``seeds`` alone in this process (see :class:`CrawlRole` for ``options``)."""
    role = CrawlRole(settings, seeds, **options)

    async def main() -> None:
        async with role:
            await role.run(asyncio.Event())

    run_on_scrapy_loop(settings, main)
    if role.summary is None:  # the role's exit writes it; only a cancelled run has none
        raise RuntimeError("the crawl ended without a summary")
    return role.summary


def _install_progress(crawler: Any, progress: Progress, every_s: float, started: float) -> None:
    from scrapy import signals
    from twisted.internet.task import LoopingCall

    def report() -> None:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        elapsed = max(time.monotonic() - started, 1e-6)
        pages = int(stats.get("heroes/pages", 0))
        progress(
            {
                "pages": pages,
                "errors": int(stats.get("heroes/page_errors", 0)),
                "hosts": len(getattr(_pipeline(crawler), "hosts", {}) or {}),
                "rate": round(pages / elapsed, 1),
                "elapsed_s": round(elapsed, 1),
            }
        )

    loop = LoopingCall(report)

    def opened(**_: Any) -> None:
        loop.start(every_s, now=False)

    def closed(**_: Any) -> None:
        if loop.running:
            loop.stop()

    # weak=False: the handlers are closures that nothing else keeps alive.
    crawler.signals.connect(opened, signal=signals.spider_opened, weak=False)
    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)


def _live_stats(crawler: Any) -> dict[str, Any]:
    """The crawl's Scrapy stats so far ({} before the crawl has started)."""
    try:
        return dict(crawler.stats.get_stats())
    except RuntimeError:  # Scrapy sets Crawler.stats only when the crawl starts
        return {}


def _pipeline(crawler: Any) -> Any:
    from crawler.pipelines import SpoolPipeline

    scraper = getattr(getattr(crawler, "engine", None), "scraper", None)
    manager = getattr(scraper, "itemproc", None)
    for middleware in getattr(manager, "middlewares", ()):
        if isinstance(middleware, SpoolPipeline):
            return middleware
    return None
