"""The crawl service's schedule and change detection, on real stores (SQLite frontier,
validator table, spool): when a URL is due again, what a host-level failure does, which
pages are not indexed again, and what the conditional requests carry."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.settings import Settings as ScrapySettings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.reactor import install_reactor, is_reactor_installed

from config import Settings, load_settings
from config.sections.crawler import CrawlerSettings
from crawler.frontier.store import CHANGED_PRIORITY, NEW_PRIORITY, STALE_PRIORITY
from crawler.items import PageItem, SkipItem
from crawler.middlewares.conditional import KNOWN_SHA256_META, ConditionalRequestMiddleware
from crawler.pipelines import SpoolPipeline
from crawler.recrawl import recheck_after_s, service_state
from crawler.run import service_values
from crawler.service import ServiceScanRole
from crawler.service_frontier import ServiceFrontier, host_failed, refetch_after_s
from crawler.settings import scrapy_settings
from crawler.validators import SqliteValidatorStore, Validators, open_validators
from documents.page import Page
from documents.service import Check, Service
from heroes.cli import main
from index.store import Store
from tests.crawler.observe import spooled_urls

OPTIONS = CrawlerSettings(recrawl_interval_h=1.0, dead_backoff_base=2.0, max_recheck_s=5 * 3600,
                          refetch_interval_s=600.0, dead_after_checks=3)
HOST = "a" * 56 + ".onion"
FRONT, DEEP = f"http://{HOST}/", f"http://{HOST}/forum/thread-1.html"


def test_front_pages_back_off_to_the_cap_and_deep_pages_keep_their_interval() -> None:
    assert refetch_after_s(FRONT, failed=False, misses=0, options=OPTIONS) == 3600
    assert refetch_after_s(DEEP, failed=False, misses=0, options=OPTIONS) == 600
    assert refetch_after_s(FRONT, failed=True, misses=2, options=OPTIONS) == 4 * 3600
    # A deep page of a failing service waits for the service, not for its own interval.
    assert refetch_after_s(DEEP, failed=True, misses=1, options=OPTIONS) == 2 * 3600
    assert recheck_after_s(3, OPTIONS) == 5 * 3600
    assert recheck_after_s(10**6, OPTIONS) == 5 * 3600  # no overflow, still the cap


def test_only_failures_of_the_service_itself_count_as_host_level() -> None:
    assert host_failed("OnionServiceDown: SOCKS 0xf0 descriptor not found for x.onion")
    assert host_failed("OnionServiceRefused: SOCKS 0xf6 bad address")
    assert host_failed("HostBackingOff: x.onion is backing off")
    assert not host_failed("SocksCircuitError: SOCKS 0x01 general failure")
    assert not host_failed(None) and not host_failed("")


def _service(checks: list[bool], at: datetime | None = None) -> Service:
    at = at or datetime.now(UTC)
    history = [Check(at=at - timedelta(minutes=len(checks) - i), up=up)
               for i, up in enumerate(checks)]
    return Service(host=HOST, first_seen=at - timedelta(days=1), last_seen=at, history=history)


def test_service_states() -> None:
    assert service_state(_service([]), OPTIONS) == "new"
    assert service_state(_service([False, True]), OPTIONS) == "up"
    assert service_state(_service([True, False, False]), OPTIONS) == "down"
    assert service_state(_service([True, False, False, False]), OPTIONS) == "dead"


# --- the scheduler on a real SQLite frontier ----------------------------------------------


class PagesSpider(Spider):
    name = "pages"

    def parse(self, response: Any) -> None: ...

    def failed(self, failure: Any) -> None: ...


def _settings(tmp_path: Path, **crawler: Any) -> Settings:
    return load_settings(None, environ={}, overrides={
        "data_dir": str(tmp_path), "crawler": {"concurrency_per_host": 4, **crawler}})


def _crawler(settings: Settings, tmp_path: Path) -> Crawler:
    if not is_reactor_installed():
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    values = scrapy_settings(settings, [], job="svc", job_dir=tmp_path / "crawl-jobs" / "svc")
    values.update(service_values(values))
    crawler = Crawler(PagesSpider, ScrapySettings(values))
    crawler.stats = MemoryStatsCollector(crawler)
    return crawler


def _page(url: str, *, error: str | None = None, status: int = 200, body: bytes = b"x",
          etag: str = "") -> Page:
    return Page(url=url, fetched_at=datetime.now(UTC), status=status, error=error,
                sha256=hashlib.sha256(body).hexdigest(), etag=etag, job="svc")


def _finish(scheduler: ServiceFrontier, item: Any) -> None:
    scheduler.crawler.signals.send_catch_log(signals.item_scraped, item=item, response=None,
                                             spider=None)


def test_finished_urls_come_back_on_their_schedule_and_the_service_never_runs_dry(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, recrawl_interval_h=1.0, refetch_interval_s=600.0)
    scheduler = ServiceFrontier.from_crawler(_crawler(settings, tmp_path))
    scheduler.open(PagesSpider())
    dead = "d" * 56 + ".onion"
    try:
        for url in (FRONT, DEEP, f"http://{dead}/", "http://" + "e" * 56 + ".onion/out"):
            scheduler.enqueue_request(Request(url))
        leased = {r.url for r in iter(scheduler.next_request, None)}
        assert FRONT in leased and DEEP in leased
        _finish(scheduler, PageItem(_page(FRONT), (FRONT,)))
        _finish(scheduler, PageItem(_page(DEEP), (DEEP,)))
        _finish(scheduler, PageItem(_page(f"http://{dead}/", status=0,
                                          error="OnionServiceDown: SOCKS 0xf0"),
                                    (f"http://{dead}/",)))
        out = "http://" + "e" * 56 + ".onion/out"
        _finish(scheduler, SkipItem(out, "out_of_scope", (out,)))
        store = scheduler.store
        counts = store.counts()
        # Front, deep and dead pages are queued again (not due), the refused one is done.
        assert (counts.queued, counts.due, counts.leased, counts.done) == (3, 0, 0, 1)
        assert store.host(dead).deferred_s > 3000  # backed off, for every crawler
        assert scheduler.has_pending_requests()  # nothing is due, and still it runs
        assert scheduler.next_request() is None
        assert scheduler.crawler.stats.get_value("heroes/service/host_failures") == 1
    finally:
        scheduler.close("finished")


def test_changed_pages_come_back_before_stale_ones_and_new_urls_before_both(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, refetch_interval_s=0.2)
    scheduler = ServiceFrontier.from_crawler(_crawler(settings, tmp_path))
    scheduler.open(PagesSpider())
    stale, moved = f"http://{'s' * 56}.onion/a.html", f"http://{'m' * 56}.onion/b.html"
    fresh = f"http://{'n' * 56}.onion/c.html"
    try:
        # The stale page's host is served first: its URL was queued first.
        for url in (stale, moved):
            scheduler.enqueue_request(Request(url))
        assert [r.url for r in iter(scheduler.next_request, None)] == [stale, moved]
        same, other = _page(stale, body=b"same"), _page(moved, body=b"new text")
        for page in (same, other):
            known = same.sha256  # what the conditional middleware put on both requests
            scheduler.crawler.signals.send_catch_log(
                signals.item_scraped, item=PageItem(page, (page.url,)),
                response=SimpleNamespace(meta={KNOWN_SHA256_META: known}), spider=None)
        scheduler.enqueue_request(Request(fresh))
        store = scheduler.store
        deadline = time.monotonic() + 10
        while store.counts().due < 3:  # both re-fetches due
            assert time.monotonic() < deadline, store.counts()
            time.sleep(0.02)
        got = store.lease(scheduler.worker, 3)
        assert [(e.url, e.priority) for e in got] == [
            (fresh, NEW_PRIORITY), (moved, CHANGED_PRIORITY), (stale, STALE_PRIORITY)]
        assert scheduler.crawler.stats.get_value("heroes/service/changed") == 1
    finally:
        scheduler.close("finished")


# --- change detection in the pipeline -----------------------------------------------------


def test_unchanged_pages_are_not_indexed_again(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    crawler = _crawler(settings, tmp_path)
    url = DEEP

    async def run() -> None:
        pipeline = SpoolPipeline(crawler)
        for page in (_page(url, body=b"v1", etag='"1"'), _page(url, body=b"v1"),
                     _page(url, status=304, body=b""), _page(url, body=b"v2", etag='"2"')):
            await pipeline.process_item(PageItem(page, (url,)))
        pipeline.close_spider()

    asyncio.run(run())
    assert spooled_urls(tmp_path) == [url, url]  # v1 and v2, not the repeat nor the 304
    stats = crawler.stats
    assert stats.get_value("heroes/unchanged/same_hash") == 1
    assert stats.get_value("heroes/unchanged/not_modified") == 1
    assert stats.get_value("heroes/pages") == 4
    validators = open_validators(settings)
    try:
        assert validators.get(url) == Validators('"2"', "", hashlib.sha256(b"v2").hexdigest())
    finally:
        validators.close()


def test_a_page_fetched_again_asks_whether_it_changed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    crawler = _crawler(settings, tmp_path)
    table = SqliteValidatorStore(tmp_path / "crawl-validators.sqlite")
    table.put([(DEEP, Validators('"abc"', "Tue, 01 Dec 2026 10:00:00 GMT", "00"))])
    table.close()
    middleware = ConditionalRequestMiddleware.from_crawler(crawler)
    known, fresh = Request(DEEP), Request(FRONT)
    media = Request(DEEP, meta={"heroes_media_cap": 10})
    for request in (known, fresh, media):
        middleware.process_request(request)
    assert known.headers[b"If-None-Match"] == b'"abc"'
    assert known.headers[b"If-Modified-Since"] == b"Tue, 01 Dec 2026 10:00:00 GMT"
    assert b"If-None-Match" not in fresh.headers and b"If-None-Match" not in media.headers
    middleware.validators.close()


# --- the scan of known services -----------------------------------------------------------


def test_every_known_service_is_queued_for_its_recheck(tmp_path: Path) -> None:
    settings = _settings(tmp_path, recrawl_interval_h=1.0)
    store = Store(settings)
    now = datetime.now(UTC)
    hosts = ["".join("abcdefghij"[int(c)] for c in f"{i:056d}") + ".onion" for i in range(25)]
    services = [Service(host=h, first_seen=now, last_seen=now - timedelta(hours=2),
                        history=[Check(at=now - timedelta(hours=2), up=True)])
                for h in hosts[:20]]
    services += [Service(host=h, first_seen=now, last_seen=now,
                         history=[Check(at=now, up=True)]) for h in hosts[20:]]
    store.append(services)

    async def drain_and_scan() -> Any:
        async with store.writer() as drainer:
            await drainer.drain_all()
        job_db = tmp_path / "crawl-jobs" / "svc" / "job.sqlite"
        async with ServiceScanRole(settings, "svc", job_db) as scan:
            return await scan.scan(), await scan.scan()

    try:
        first, again = asyncio.run(drain_and_scan())
    finally:
        store.close()
    assert (first.services, first.queued) == (25, 25)
    assert (again.services, again.queued) == (25, 0)  # already queued: their own schedule
    from crawler.frontier import open_store

    frontier = open_store(settings, "svc", tmp_path / "crawl-jobs" / "svc" / "job.sqlite")
    try:
        counts = frontier.counts()
        assert (counts.queued, counts.due) == (25, 20)  # the 5 fresh ones wait an hour
    finally:
        frontier.close()


def test_pages_through_services_beyond_one_page(tmp_path: Path) -> None:
    from crawler import known_services

    settings = _settings(tmp_path)
    store = Store(settings)
    now = datetime.now(UTC)
    hosts = ["".join("klmnopqrst"[int(c)] for c in f"{i:056d}") + ".onion" for i in range(7)]
    store.append([Service(host=h, first_seen=now, last_seen=now) for h in hosts])

    async def read() -> list[str]:
        async with store.writer() as drainer:
            await drainer.drain_all()
        return [s.host async for s in known_services.known_services(store, page_size=3)]

    try:
        assert asyncio.run(read()) == sorted(hosts)
    finally:
        store.close()


# --- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize("extra", [["--recrawl"], ["--max-pages", "3"]])
def test_forever_refuses_one_shot_options(tmp_path: Path, extra: list[str]) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "crawl", "--forever",
                                       *extra], env={})
    assert result.exit_code == 2, result.output
    assert "--forever" in result.output


def test_crawl_without_a_subcommand_is_crawl_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "crawl"], env={})
    assert result.exit_code == 2 and "no seeds" in result.output
    help_text = CliRunner().invoke(main, ["crawl", "--help"], env={}).output
    assert "run" in help_text and "status" in help_text


def test_validators_in_redis_are_shared_and_an_outage_is_ours(tmp_path: Path) -> None:
    from crawler.frontier import FrontierUnavailable
    from crawler.validators import RedisValidatorStore
    from heroes.lab import redis as lab_redis

    lab_dir = tmp_path / "redis-lab"
    info = lab_redis.up(lab_dir)
    try:
        one, two = (RedisValidatorStore(str(info["url"]), "heroes:frontier:validators")
                    for _ in range(2))
        one.put([(DEEP, Validators('"e1"', "", "ab"))])
        assert two.get(DEEP) == Validators('"e1"', "", "ab") and two.get(FRONT) is None
        lab_redis.down(lab_dir)
        with pytest.raises(FrontierUnavailable, match="validators in Redis"):
            two.get(DEEP)
        one.close()
        two.close()
    finally:
        lab_redis.down(lab_dir)
