"""The crawl's Scrapy statistics as metrics, and sources that fail or go away."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from telemetry.metrics import REGISTRY, Sampled
from telemetry.sources import forget_crawl, watch_crawl


def samples(registry: CollectorRegistry = REGISTRY) -> dict[tuple[str, tuple[Any, ...]], float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_crawl_reports_pages_queue_newnyms_and_socks_failures() -> None:
    stats: dict[str, Any] = {"heroes/pages": 12, "heroes/page_errors": 2,
                             "heroes/tor/newnym": 1, "heroes/socks/circuit": 4,
                             "heroes/socks/error_0x01": 4, "scheduler/enqueued": 30,
                             "scheduler/dequeued": 21}
    watch_crawl("job-a", lambda: stats, tor_clients=2)
    try:
        found = samples()
        assert found[("heroes_pages_fetched_total", ())] == 12
        assert found[("heroes_page_errors_total", ())] == 2
        assert found[("heroes_tor_newnym_total", ())] == 1
        assert found[("heroes_crawl_queue_requests", ())] == 9
        assert found[("heroes_tor_clients", ())] == 2
        socks = {k: v for k, v in found.items() if k[0] == "heroes_socks_failures_total"}
        assert socks == {("heroes_socks_failures_total", (("kind", "circuit"),)): 4}
        stats["heroes/pages"] = 13
        assert samples()[("heroes_pages_fetched_total", ())] == 13
    finally:
        forget_crawl("job-a")
    assert ("heroes_pages_fetched_total", ()) not in samples()


def test_a_failing_source_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    gauge = Sampled("heroes_test_gauge", "A test gauge.", ("part",), registry=registry)
    gauge.watch("good", lambda: {("a",): 1.0})

    def broken() -> dict[tuple[str, ...], float]:
        raise OSError("disk gone")

    gauge.watch("broken", broken)
    with caplog.at_level(logging.WARNING, logger="telemetry.metrics"):
        assert samples(registry) == {("heroes_test_gauge", (("part", "a"),)): 1.0}
    assert "source broken failed: disk gone" in caplog.text


async def test_a_crawl_role_reports_from_entry_to_exit(tmp_path: Path) -> None:
    from config import load_settings
    from crawler.run import CrawlRole

    settings = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path)})
    # No Tor clients: entry builds the crawl without launching one; the crawl never starts.
    async with CrawlRole(settings, ["http://abcdefexample.onion/"], endpoints=[]):
        found = samples()
        assert found[("heroes_pages_fetched_total", ())] == 0
        assert found[("heroes_tor_clients", ())] == 0
    assert ("heroes_tor_clients", ()) not in samples()
