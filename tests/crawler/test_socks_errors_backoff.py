"""What a failure does to its host: adaptive connect timeouts, capped retry back-off, and a
host-level SOCKS error taking the onion out for a while (no request reaches Tor meanwhile)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.settings import Settings as ScrapySettings
from scrapy.spiders import Spider
from scrapy.statscollectors import MemoryStatsCollector

from config import load_settings
from config.sections.crawler import CrawlerSettings
from crawler.access.throttle import HostThrottle
from crawler.errors import ConnectTimeout, socks_error
from crawler.middlewares import politeness
from crawler.middlewares.politeness import HostBackingOff, PolitenessMiddleware
from crawler.settings import scrapy_settings

HOST = "y" * 56 + ".onion"


def _host(**kw: Any) -> HostThrottle:
    return HostThrottle(CrawlerSettings(**kw))


def test_connect_timeout_grows_on_timeouts_up_to_the_max() -> None:
    host = _host(connect_timeout_s=30, max_connect_timeout_s=150, connect_timeout_growth=2)
    assert host.connect_timeout == 30
    assert [host.connect_timed_out() for _ in range(4)] == [60, 120, 150, 150]


def test_connect_timeout_shrinks_on_fast_opens_never_below_the_start() -> None:
    host = _host(connect_timeout_s=30, max_connect_timeout_s=240, connect_timeout_growth=2)
    for _ in range(3):
        host.connect_timed_out()
    assert host.connect_timeout == 240
    host.connected(130.0)  # a slow open (over half of 240) keeps the timeout
    assert host.connect_timeout == 240
    host.connected(50.0)  # fast: one step back, but not below twice this open time
    assert host.connect_timeout == 120
    host.connected(50.0)
    assert host.connect_timeout == 100
    for _ in range(5):
        host.connected(1.0)
    assert host.connect_timeout == 30


def test_retry_waits_double_and_are_capped() -> None:
    host = _host(retry_backoff_s=5, max_retry_backoff_s=30)
    assert [host.retry_wait(n) for n in (1, 2, 3, 4, 10, 10_000)] == [5, 10, 20, 30, 30, 30]
    assert host.failed(100.0, 2) == 10 and host.paused_until == 110.0


def test_a_down_host_backs_off_doubling_capped_and_an_answer_ends_it() -> None:
    host = _host(host_down_backoff_s=60, max_host_down_backoff_s=200)
    waits = [host.service_down(1000.0, "0xf0") for _ in range(4)]
    assert waits == [60, 120, 200, 200]
    assert host.is_down(1199.0) and not host.is_down(1200.5)
    host.answered(1300.0)
    assert (host.down_strikes, host.is_down(1300.0)) == (0, False)
    assert host.service_down(1300.0, "0xf2") == 60


# --- the middleware, built through its production constructor ---------------------------


def _middleware(tmp_path: Path, **crawler: Any) -> PolitenessMiddleware:
    settings = load_settings(
        None, environ={}, overrides={"data_dir": str(tmp_path), "crawler": crawler}
    )
    scrapy = Crawler(Spider, ScrapySettings(
        scrapy_settings(settings, [], job="t", job_dir=tmp_path / "job")))
    scrapy.stats = MemoryStatsCollector(scrapy)
    # No crawl runs: no download slots to pace (the state is what is checked).
    scrapy.engine = SimpleNamespace(downloader=SimpleNamespace(slots={}))  # type: ignore[assignment]
    return PolitenessMiddleware(scrapy)


def test_a_host_level_error_stops_requests_to_that_host_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(politeness, "monotonic", lambda: clock[0])
    mw = _middleware(tmp_path, host_down_backoff_s=300)
    front = Request(f"http://{HOST}/")
    mw.process_request(front)
    assert mw.process_exception(front, socks_error(0xF0, HOST)) is None
    with pytest.raises(HostBackingOff, match="descriptor not found") as refused:
        mw.process_request(Request(f"http://{HOST}/about"))
    assert 299 < refused.value.wait_s <= 300
    mw.process_request(Request("http://" + "z" * 56 + ".onion/"))  # other hosts go on
    clock[0] += 301
    mw.process_request(Request(f"http://{HOST}/about"))  # the back-off is over: one try
    stats = mw.crawler.stats.get_stats()
    assert stats["heroes/hosts/down"] == 1 and stats["heroes/hosts/backing_off"] == 1


def test_timeouts_grow_the_connect_timeout_carried_by_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(politeness, "monotonic", lambda: clock[0])
    mw = _middleware(tmp_path, connect_timeout_s=30, max_connect_timeout_s=120,
                     read_timeout_s=60, retry_backoff_s=4)
    first = Request(f"http://{HOST}/")
    mw.process_request(first)
    assert first.meta["heroes_connect_timeout"] == 30
    assert "download_timeout" not in first.meta  # nothing grew: Scrapy's own stays
    mw.process_exception(first, ConnectTimeout(HOST, 30))
    retry = first.replace(meta={**first.meta, "retry_times": 1, "download_timeout": 60})
    mw.process_request(retry)
    # The stream may take 60 s to open, and the download as long again past it.
    assert retry.meta["heroes_connect_timeout"] == 60
    assert retry.meta["download_timeout"] == 90
    assert mw.hosts[HOST].paused_until == 1004.0  # the retry waits first
    mw.process_exception(retry, ConnectTimeout(HOST, 60))
    assert mw.hosts[HOST].paused_until == 1008.0  # second retry: twice as long
    # A fast open brings it back down.
    again = Request(f"http://{HOST}/", meta={"heroes_connect_s": 2.0})
    mw.process_response(again, Response(again.url, status=200, request=again))
    assert mw.hosts[HOST].connect_timeout == 60
    assert mw.crawler.stats.get_stats()["heroes/connect/timed_out"] == 2


def test_a_failure_that_is_not_retried_does_not_pause_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(politeness, "monotonic", lambda: 1000.0)
    mw = _middleware(tmp_path, retry_backoff_s=4)
    last = Request(f"http://{HOST}/", meta={"retry_times": 2})  # RETRY_TIMES is 2: no more
    mw.process_exception(last, socks_error(0x01, HOST))
    unretried = Request(f"http://{HOST}/x", meta={"dont_retry": True})
    mw.process_exception(unretried, socks_error(0x06, HOST))
    assert mw.hosts[HOST].paused_until == 0.0
    mw.process_exception(Request(f"http://{HOST}/y"), socks_error(0x06, HOST))
    assert mw.hosts[HOST].paused_until == 1004.0


def test_the_handler_opens_with_the_hosts_timeout_and_reports_the_open_time() -> None:
    from twisted.internet.defer import succeed
    from twisted.internet.task import Clock

    from crawler.handlers.socks import _SocksScrapyAgent, _TimedEndpoint
    from crawler.tor.client import TorEndpoint

    def agent_for(request: Request, download_timeout: float) -> Any:
        agent = _SocksScrapyAgent.__new__(_SocksScrapyAgent)
        agent._route = (TorEndpoint("127.0.0.1", 9050, None), "h-1")
        agent._socks_connect_timeout = 30.0
        agent._contextFactory = None
        agent._pool = None
        return agent._get_agent(request, download_timeout)

    grown = Request(f"http://{HOST}/", meta={"heroes_connect_timeout": 120.0})
    assert agent_for(grown, 180.0)._connect_timeout == 120.0
    assert agent_for(grown, 60.0)._connect_timeout == 60.0  # never past the whole download
    assert agent_for(Request(f"http://{HOST}/"), 180.0)._connect_timeout == 30.0

    clock = Clock()
    opened: list[float] = []

    class Slow:
        def connect(self, factory: Any) -> Any:
            clock.advance(42.5)  # the rendezvous took this long
            return succeed("protocol")

    result: list[Any] = []
    _TimedEndpoint(clock, Slow(), opened.append).connect(None).addCallback(result.append)
    assert (opened, result) == ([42.5], ["protocol"])
