"""Two crawler processes on one Redis frontier crawl the lab world, each on its own data
directory (machines that share only Redis), through a Redis stop and restart: the crawl
pauses and resumes with no page lost or fetched twice, and the queue lives in Redis. The
crawlers are started by :mod:`tests.crawler.redis_crawlers`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import LabRedis
from tests.crawler.conftest import LabWorld
from tests.crawler.observe import captures, reap, spooled_urls, wait_for
from tests.crawler.redis_crawlers import finish, frontier_status, log_path, start

pytestmark = pytest.mark.tor


def test_redis_stopped_and_restarted_mid_crawl_loses_and_repeats_nothing(
    lab_world: LabWorld, tmp_path: Path, redis_lab: LabRedis
) -> None:
    dirs = [tmp_path / "one", tmp_path / "two"]
    logs = [log_path(d) for d in dirs]
    procs = [start(lab_world, d, redis_lab.url) for d in dirs]

    def spooled_now() -> int:
        return sum(len(spooled_urls(d)) for d in dirs)

    def logged(text: str) -> bool:
        return any(text in log.read_text() for log in logs if log.exists())

    try:
        wait_for("the first pages", lambda: spooled_now() >= 4, procs, 150, logs)
        redis_lab.stop()
        wait_for("the pause", lambda: logged("crawling paused"), procs, 60, logs)
        during = spooled_now()
        redis_lab.start_again()
        wait_for("the resume", lambda: logged("crawling resumed"), procs, 60, logs)
        finish(procs, dirs)
    finally:
        reap(procs)
    reachable = set(lab_world.truth["reachable_pages"])
    assert during < len(reachable), "paused too late to test anything"
    spooled = Counter(u for d in dirs for u in spooled_urls(d))
    assert not reachable - set(spooled), sorted(reachable - set(spooled))[:5]
    assert {u for u, n in spooled.items() if n > 1} == set()
    fetched = Counter(c["url"] for d in dirs for c in captures(d))
    assert {u for u in reachable if fetched[u] != 1} == set()
    status = frontier_status(lab_world, dirs[0], redis_lab.url)
    assert status["leased"] == 0 and status["frontier"]["queued"] == 0, status
