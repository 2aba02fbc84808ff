"""Live fixtures of the crawler tests: the lab world (Tor network + onion sites) once per
session, and one crawl of it from the directory seed, run as the real CLI in a subprocess
with name resolution and connections recorded (:mod:`tests.crawler.netspy`)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings
from index.store import Store
from query.model import Search
from tests.crawler.population_fixture import lab_population  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
CRAWL_TIMEOUT_S = 300
# Ports of this package's lab world; other packages' worlds use other bases.
LAB_BASE_PORT = 18000


@dataclass
class LabWorld:
    dir: Path
    info: dict[str, Any]
    truth: dict[str, Any]

    @property
    def seed_url(self) -> str:
        return str(self.info["seed_url"])

    def crawl_env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        """Environment for a ``heroes`` subprocess attached to the lab's Tor client."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
        env.update(
            {
                "HEROES_DATA_DIR": str(data_dir),
                "HEROES_TOR__MODE": "attach",
                "HEROES_TOR__CONTROL_PORTS": json.dumps([self.info["control"]["port"]]),
                "HEROES_TOR__SOCKS_PORTS": json.dumps([self.info["socks"]["port"]]),
                "HEROES_IN_NETNS": os.environ.get("HEROES_IN_NETNS", ""),
                **extra,
            }
        )
        return env


@pytest.fixture(scope="package")
def lab_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabWorld]:
    from heroes.lab import world
    from heroes.lab.tor_config import LabSetupError

    if os.environ.get("HEROES_IN_NETNS") != "1":
        pytest.skip(
            "live Tor tests run inside scripts/loopback-only.sh (nothing may leave the host)"
        )
    lab_dir = tmp_path_factory.mktemp("lab")
    try:
        info = world.up(lab_dir, seed=3, swarm=False, base_port=LAB_BASE_PORT)
    except LabSetupError as exc:
        pytest.fail(f"the lab world did not come up: {exc}")
    try:
        truth = json.loads(Path(info["ground_truth"]).read_text())
        yield LabWorld(lab_dir, info, truth)
    finally:
        world.down(lab_dir)


@dataclass
class CrawlRun:
    data_dir: Path
    returncode: int
    output: str
    spy: list[dict[str, str]]
    summary: dict[str, Any]
    started_at: float
    max_rss_kb: int


def run_heroes(
    world: LabWorld,
    data_dir: Path,
    args: list[str],
    spy_log: Path | None = None,
    timeout: float = CRAWL_TIMEOUT_S,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    prefix = (
        [sys.executable, "-m", "tests.crawler.netspy", str(spy_log)]
        if spy_log
        else [sys.executable, "-m", "heroes.cli"]
    )
    return subprocess.run(
        [*prefix, *args],
        cwd=ROOT,
        env=world.crawl_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="package")
def lab_crawl(lab_world: LabWorld, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    data_dir = tmp_path_factory.mktemp("crawl-data")
    spy_log = data_dir.parent / f"{data_dir.name}-netspy.jsonl"
    started = time.time()
    done = run_heroes(
        lab_world,
        data_dir,
        # -v: the tests read the info lines of the log too.
        ["-v", "crawl", lab_world.seed_url, "--job", "main", "--json"],
        spy_log=spy_log,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"crawl failed ({done.returncode}):\n{output[-4000:]}"
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    spy = (
        [json.loads(line) for line in spy_log.read_text().splitlines()] if spy_log.exists() else []
    )
    # The crawl's own peak (the spy records it at exit): RUSAGE_CHILDREN would be the largest
    # of every process this test session ever reaped.
    peaks = [int(e["target"]) for e in spy if e["kind"] == "maxrss_kb"]
    rss = peaks[-1] if peaks else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    spy = [e for e in spy if e["kind"] != "maxrss_kb"]
    return CrawlRun(data_dir, done.returncode, output, spy, summary, started, rss)


def settings_for(data_dir: Path) -> Settings:
    return load_settings(None, environ={}, overrides={"data_dir": str(data_dir)})


def indexed(data_dir: Path, kind: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        store = Store(settings_for(data_dir))
        try:
            result = await store.search(Search(kind=kind, size=10_000))
        finally:
            store.close()
        return [hit["_source"] for hit in result["hits"]["hits"]]

    return asyncio.run(fetch())
