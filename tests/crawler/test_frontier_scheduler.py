"""The Scrapy scheduler on the frontier store: two crawlers on one job never get the same URL,
a dead crawler's leases come back, retries stay in the process, and a Redis that stops and
restarts mid-crawl pauses the crawl and resumes it with nothing lost."""

from __future__ import annotations

import logging
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.settings import Settings as ScrapySettings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.reactor import install_reactor, is_reactor_installed

from config import load_settings
from crawler.frontier.scheduler import Frontier, dead_here, worker_id
from crawler.frontier.store import FrontierUnavailable, NewUrl
from crawler.settings import scrapy_settings
from heroes.lab import redis as lab_redis
from tests.crawler.observe import poll

HOSTS = [c * 56 + ".onion" for c in "abc"]


class PagesSpider(Spider):
    name = "pages"

    def parse(self, response: Any) -> None: ...

    def failed(self, failure: Any) -> None: ...


def make_frontier(tmp_path: Path, job: str = "j", **frontier: Any) -> Frontier:
    if not is_reactor_installed():
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    coordination = frontier.pop("coordination", {})
    settings = load_settings(None, environ={}, overrides={
        "data_dir": str(tmp_path), "frontier": frontier, "coordination": coordination,
        "crawler": {"concurrency_per_host": 4}})
    crawler = Crawler(PagesSpider, ScrapySettings(
        scrapy_settings(settings, [], job=job, job_dir=tmp_path / "crawl-jobs" / job)))
    crawler.stats = MemoryStatsCollector(crawler)
    scheduler = Frontier.from_crawler(crawler)
    scheduler.open(PagesSpider())
    return scheduler


def done(scheduler: Frontier, *urls: str) -> None:
    """What the pipelines signal once a page is in the spool."""
    scheduler.crawler.signals.send_catch_log(
        signals.item_scraped, item=SimpleNamespace(request_urls=urls), response=None,
        spider=None)


def drain(scheduler: Frontier) -> list[Request]:
    out = []
    while (request := scheduler.next_request()) is not None:
        out.append(request)
    return out


def links(n: int) -> list[Request]:
    return [Request(f"http://{HOSTS[i % 3]}/p{i}", meta={"depth": 1}, priority=-1)
            for i in range(n)]


def test_two_crawlers_on_one_job_never_get_the_same_url(tmp_path: Path) -> None:
    # Without host affinity, so that both crawlers take URLs of the same hosts.
    one, two = make_frontier(tmp_path, host_affinity_s=0), make_frontier(tmp_path,
                                                                         host_affinity_s=0)
    try:
        assert all(one.enqueue_request(r) for r in links(30))
        assert not two.enqueue_request(links(1)[0])  # a duplicate across processes
        got: dict[str, list[str]] = {"one": [], "two": []}
        while True:
            batch = [(name, s.next_request()) for name, s in (("one", one), ("two", two))]
            if all(r is None for _, r in batch):
                break
            for name, request in batch:
                if request is not None:
                    got[name].append(request.url)
                    done(one if name == "one" else two, request.url)
        assert got["one"] and got["two"]
        assert not set(got["one"]) & set(got["two"])
        assert len(got["one"]) + len(got["two"]) == 30
        assert not one.has_pending_requests() and not two.has_pending_requests()
        assert one.store.counts().done == 30 and one.store.lease("x", 1) == []
    finally:
        one.close("finished")
        two.close("finished")


def test_restored_requests_keep_callback_depth_and_priority(tmp_path: Path) -> None:
    scheduler = make_frontier(tmp_path)
    spider_request = Request(f"http://{HOSTS[0]}/a", callback=PagesSpider.parse,
                             errback=PagesSpider.failed, meta={"depth": 3}, priority=-3)
    assert scheduler.enqueue_request(spider_request)
    request = scheduler.next_request()
    assert request is not None and request.url == spider_request.url
    assert request.callback.__name__ == "parse" and request.errback.__name__ == "failed"
    assert request.meta == {"depth": 3} and request.priority == -3
    scheduler.close("finished")


def test_a_dead_crawlers_leases_are_released_at_the_next_start_here(tmp_path: Path) -> None:
    dead = make_frontier(tmp_path)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead.worker = f"{socket.gethostname()}/{gone.pid}/0000"
    for request in links(6):
        dead.enqueue_request(request)
    held = drain(dead)
    assert len(held) == 6  # leased, never acked: the process "died" here
    alive = make_frontier(tmp_path)
    try:
        assert sorted(r.url for r in drain(alive)) == sorted(r.url for r in held)
    finally:
        alive.close("finished")


def test_retries_and_redirects_stay_in_the_process_that_holds_them(tmp_path: Path) -> None:
    scheduler = make_frontier(tmp_path)
    other = make_frontier(tmp_path)
    try:
        scheduler.enqueue_request(links(1)[0])
        request = scheduler.next_request()
        assert request is not None
        retry = request.replace(dont_filter=True)
        retry.meta["retry_times"] = 1
        assert scheduler.enqueue_request(retry)
        moved = Request(f"http://{HOSTS[1]}/moved", meta={"redirect_urls": [request.url]})
        assert scheduler.enqueue_request(moved)
        assert other.next_request() is None  # both are this crawler's
        assert scheduler.next_request() is retry and scheduler.next_request() is moved
        dup = Request(request.url, meta={"redirect_urls": [f"http://{HOSTS[2]}/x"]})
        assert scheduler.enqueue_request(dup) is False
        done(scheduler, request.url, moved.url)
        assert scheduler.store.counts().done == 2 and not other.has_pending_requests()
    finally:
        scheduler.close("finished")
        other.close("finished")


def test_close_releases_unfinished_leases(tmp_path: Path) -> None:
    scheduler = make_frontier(tmp_path, window=2)
    for request in links(4):
        scheduler.enqueue_request(request)
    assert scheduler.next_request() is not None
    scheduler.close("shutdown")
    again = make_frontier(tmp_path)
    try:
        assert len(drain(again)) == 4
    finally:
        again.close("finished")


@pytest.fixture()
def lab_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "lab"
    yield directory
    lab_redis.down(directory)


def test_redis_stopped_and_restarted_mid_crawl_pauses_and_loses_nothing(
    tmp_path: Path, lab_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    info = lab_redis.up(lab_dir)
    scheduler = make_frontier(tmp_path, backend="redis", pause_check_s=0.1, window=4,
                              coordination={"redis_url": info["url"]})
    fetched: list[str] = []
    try:
        for request in links(12):
            assert scheduler.enqueue_request(request)
        first = [scheduler.next_request() for _ in range(4)]
        fetched += [r.url for r in first if r is not None]
        done(scheduler, *fetched[:2])  # two pages finished before the outage

        lab_redis.down(lab_dir)
        with pytest.raises(FrontierUnavailable):
            scheduler.store.push([NewUrl(f"http://{HOSTS[0]}/direct")])
        with caplog.at_level(logging.WARNING, logger="crawler.frontier.scheduler"):
            done(scheduler, *fetched[2:])  # finished during the outage
            assert scheduler.enqueue_request(Request(f"http://{HOSTS[1]}/during"))
            assert scheduler.next_request() is None
            assert scheduler.has_pending_requests()
        assert "crawling paused" in caplog.text

        lab_redis.up(lab_dir, port=info["port"])
        with caplog.at_level(logging.WARNING, logger="crawler.frontier.scheduler"):
            resumed = poll(scheduler.next_request, "the crawl resumes", 20.0)
            assert "crawling resumed" in caplog.text
        fetched.append(resumed.url)
        done(scheduler, resumed.url)
        while scheduler.has_pending_requests():
            request = scheduler.next_request()
            if request is not None:
                fetched.append(request.url)
                done(scheduler, request.url)
        assert len(fetched) == len(set(fetched)) == 13
        counts = scheduler.store.counts()
        assert (counts.done, counts.queued, counts.leased) == (13, 0, 0)
    finally:
        scheduler.close("finished")


def test_a_redis_frontier_without_a_redis_url_is_a_config_error(tmp_path: Path) -> None:
    from config.errors import ConfigError

    with pytest.raises(ConfigError, match=r"coordination\.redis_url"):
        load_settings(None, environ={"HEROES_FRONTIER__BACKEND": "redis"},
                      overrides={"data_dir": str(tmp_path)})


def test_a_shared_frontier_dedups_across_jobs(tmp_path: Path) -> None:
    first = make_frontier(tmp_path, job="monday", scope="shared")
    second = make_frontier(tmp_path, job="tuesday", scope="shared")
    own = make_frontier(tmp_path, job="wednesday")
    try:
        request = links(1)[0]
        assert first.enqueue_request(request)
        assert not second.enqueue_request(request.copy())
        assert own.enqueue_request(request.copy())  # scope "job": a frontier of its own
        assert (tmp_path / "frontier.sqlite").exists()
    finally:
        for scheduler in (first, second, own):
            scheduler.close("finished")


def test_only_dead_processes_of_this_machine_count_as_dead() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = socket.gethostname()
    assert dead_here(f"{here}/{gone.pid}/x")
    assert not dead_here(worker_id())  # this process
    assert not dead_here(f"other-machine/{gone.pid}/x")
    assert not dead_here("garbage")


def test_a_job_recorded_by_the_earlier_scheduler_resumes(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "crawl-jobs" / "j" / "job.sqlite"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as old:
        old.execute("CREATE TABLE requests (fp TEXT PRIMARY KEY, seq INTEGER, url TEXT,"
                    " host TEXT, depth INTEGER, priority INTEGER, callback TEXT, errback TEXT,"
                    " done INTEGER DEFAULT 0)")
        old.executemany("INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            ("f1", 1, f"http://{HOSTS[0]}/", HOSTS[0], 0, 0, "parse", "failed", 1),
            ("f2", 2, f"http://{HOSTS[0]}/2", HOSTS[0], 1, -1, "parse", "failed", 0)])
    scheduler = make_frontier(tmp_path)
    try:
        restored = drain(scheduler)
        assert [(r.url, r.meta["depth"], r.callback.__name__) for r in restored] == [
            (f"http://{HOSTS[0]}/2", 1, "parse")]
        done(scheduler, restored[0].url)
    finally:
        scheduler.close("finished")
    again = make_frontier(tmp_path)
    try:
        assert drain(again) == []  # handed over once
        assert again.store.counts().done == 1
    finally:
        again.close("finished")


def test_a_deferred_host_waits_for_every_crawler(tmp_path: Path) -> None:
    one, two = make_frontier(tmp_path), make_frontier(tmp_path)
    try:
        for request in links(6):
            one.enqueue_request(request)
        one.defer_host(HOSTS[0], 3600)
        got = {urlsplit(r.url).hostname for r in drain(two)}
        assert got == {HOSTS[1], HOSTS[2]}
        counts = one.counts()
        assert counts is not None and counts.queued == 2 and counts.leased == 4
    finally:
        one.close("finished")
        two.close("finished")
