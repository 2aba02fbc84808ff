"""Crawler processes on one Redis frontier, for the tests that run several (the lab world's
two through a Redis restart, the population's three with one SIGKILLed): start one on its
own data directory (machines that share only Redis), wait for them to finish, and read the
frontier's status. A delay between two requests to one onion keeps a crawl long enough for
every crawler to start, take its share and be paused mid-crawl."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.crawler.conftest import ROOT, LabWorld, run_heroes
from tests.crawler.observe import tail

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
