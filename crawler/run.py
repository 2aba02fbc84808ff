"""Run one crawl job in this process: Tor clients up, Scrapy crawl, progress, summary, drain.

``run_crawl`` is what ``heroes crawl`` and the benchmark call. It launches or attaches the
Tor clients (:class:`crawler.tor.client.TorPool`) before anything else, so a Tor that cannot
be reached stops the command before work starts; runs
:class:`crawler.spiders.onion.OnionSpider` on Scrapy's asyncio reactor; reports progress
every ``progress_every_s``; optionally runs the index drain role beside the crawl; and
returns a :class:`CrawlSummary`. The job's frontier lives in
``<data_dir>/crawl-jobs/<job>``; without a job name a fresh one is used and removed
afterwards. Twisted's reactor runs once per process, so one process runs one crawl. Reads
``[crawler]``, ``[tor]`` and ``data_dir``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config import Settings
from crawler.settings import scrapy_settings
from crawler.tor.client import TorEndpoint, TorPool

log = logging.getLogger(__name__)

JOBS_DIR = "crawl-jobs"


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
    seconds: float
    crawl_seconds: float
    finish_reason: str
    frontier: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[dict[str, Any]], None]
# The drain role: runs until the event is set, then drains what is left (Store.drain_role).
DrainRole = Callable[[asyncio.Event], Awaitable[None]]


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
        seconds=round(seconds, 2),
        crawl_seconds=round(float(stats.get("elapsed_time_seconds", seconds)), 2),
        finish_reason=str(stats.get("finish_reason", "")),
        frontier=frontier,
    )


def run_crawl(
    settings: Settings,
    seeds: Sequence[str],
    *,
    job: str | None = None,
    max_pages: int | None = None,
    progress: Progress | None = None,
    progress_every_s: float = 2.0,
    endpoints: list[TorEndpoint] | None = None,
    scrapy_extra: dict[str, Any] | None = None,
    drain: DrainRole | None = None,
) -> CrawlSummary:
    """Crawl from ``seeds`` until the frontier is empty (or ``max_pages``); blocking.

    ``endpoints`` skips Tor launch/attach (the caller manages its clients). ``drain`` runs
    beside the crawl in the same event loop, so pages reach the index while the crawl goes on.
    """
    from scrapy.crawler import AsyncCrawlerProcess

    from crawler.jobstate import JobState
    from crawler.spiders.onion import OnionSpider

    name = job or f"run-{int(time.time())}"
    directory = job_dir(settings, name)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pool = None
    try:
        if endpoints is None:
            pool = TorPool(settings.tor, Path(settings.data_dir))
            endpoints = pool.start()
        values = scrapy_settings(
            settings,
            endpoints,
            job=name,
            job_dir=directory,
            max_pages=max_pages,
            extra=scrapy_extra,
        )
        process = AsyncCrawlerProcess(values, install_root_handler=False)
        # Scrapy opens its loggers fully when it does not own the root handler; keep ours.
        logging.getLogger("scrapy").setLevel(settings.log_level)
        crawler = process.create_crawler(OnionSpider)
        if progress is not None:
            _install_progress(crawler, progress, progress_every_s, started)
        if drain is not None:
            _install_drain(crawler, drain)
        process.crawl(crawler, seeds=list(seeds))
        process.start(stop_after_crawl=True, install_signal_handlers=True)
        stats = crawler.stats.get_stats() if crawler.stats else {}
    finally:
        if pool is not None:
            pool.close()
    state = JobState(directory / "job.sqlite")
    frontier = state.counts()
    state.close()
    if job is None:
        shutil.rmtree(directory, ignore_errors=True)
    return _summary(stats, name, time.monotonic() - started, frontier)


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


def _install_drain(crawler: Any, drain: DrainRole) -> None:
    from scrapy import signals

    running: dict[str, Any] = {}

    def opened(**_: Any) -> None:
        stop = asyncio.Event()
        running["stop"], running["task"] = stop, asyncio.ensure_future(drain(stop))

    async def closed(**_: Any) -> None:
        # spider_closed comes after the pipelines closed: the last pages are in the spool.
        if running:
            running["stop"].set()
            await running["task"]

    # weak=False: the handlers are closures that nothing else keeps alive.
    crawler.signals.connect(opened, signal=signals.spider_opened, weak=False)
    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)


def _pipeline(crawler: Any) -> Any:
    from crawler.pipelines import SpoolPipeline

    scraper = getattr(getattr(crawler, "engine", None), "scraper", None)
    manager = getattr(scraper, "itemproc", None)
    for middleware in getattr(manager, "middlewares", ()):
        if isinstance(middleware, SpoolPipeline):
            return middleware
    return None
