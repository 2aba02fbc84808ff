"""Two crawler processes on one Redis frontier crawl the lab world, each on its own data
directory (machines that share only Redis), through a Redis stop and restart: the crawl
pauses and resumes with no page lost or fetched twice, and the queue lives in Redis. The
helpers start the crawlers of ``test_population_redis_live`` too (three on the population,
one of them SIGKILLed).

A delay between two requests to one onion keeps the lab world's crawl long enough (tens of
seconds) for every crawler to start, take its share and be paused mid-crawl."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import LabRedis
from tests.crawler.conftest import ROOT, LabWorld, run_heroes
from tests.crawler.observe import captures, reap, spooled_urls, tail, wait_for

pytestmark = pytest.mark.tor

WINDOW = 2
# Host affinity off: the lab world has few onions, and every crawler must get pages of them.
ENV = {"HEROES_FRONTIER__BACKEND": "redis", "HEROES_FRONTIER__LEASE_S": "8",
       "HEROES_FRONTIER__WINDOW": str(WINDOW), "HEROES_FRONTIER__PAUSE_CHECK_S": "0.5",
       "HEROES_FRONTIER__HOST_AFFINITY_S": "0",
       "HEROES_CRAWLER__CONCURRENCY": "2", "HEROES_CRAWLER__HOST_DELAY_S": "1.5"}


def start(world: LabWorld, data_dir: Path, redis_url: str, *, seed: str = "",
          env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """One crawler of job "shared" on the Redis frontier, from ``seed`` (the lab world's)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "heroes.cli", "-v", "crawl", seed or world.seed_url, "--job",
            "shared", "--no-drain", "--json"]
    env = world.crawl_env(data_dir, HEROES_COORDINATION__REDIS_URL=redis_url, **(env or ENV))
    with log_path(data_dir).open("w") as log:
        return subprocess.Popen(args, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=log,
                                env=env)


def log_path(data_dir: Path) -> Path:
    return data_dir.parent / f"crawler {data_dir.name}.log"


def finish(procs: list[subprocess.Popen[str]], dirs: list[Path], timeout_s: float = 300
           ) -> None:
    for proc, d in zip(procs, dirs, strict=True):
        proc.communicate(timeout=timeout_s)
        assert proc.returncode == 0, tail(log_path(d))


def frontier_status(world: LabWorld, data_dir: Path, redis_url: str,
                    env: dict[str, str] | None = None) -> dict[str, object]:
    done = run_heroes(world, data_dir, ["crawl", "status", "--job", "shared", "--json"],
                      timeout=60, HEROES_COORDINATION__REDIS_URL=redis_url, **(env or ENV))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


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
