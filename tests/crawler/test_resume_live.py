"""A crawl killed with SIGKILL continues when rerun with the same job, and every page ends up
indexed exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.crawler.conftest import ROOT, LabWorld, indexed, run_heroes
from tests.crawler.observe import spooled_urls

pytestmark = pytest.mark.tor


def test_sigkill_then_rerun_completes_and_indexes_each_page_once(
    lab_world: LabWorld, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    args = [
        sys.executable,
        "-m",
        "heroes.cli",
        "crawl",
        lab_world.seed_url,
        "--job",
        "k",
        "--no-drain",
    ]
    # Two requests at a time and a pause between two to one onion, so that the kill lands in
    # the middle of the crawl however fast the machine is.
    env = lab_world.crawl_env(data_dir, HEROES_CRAWLER__CONCURRENCY="2",
                              HEROES_CRAWLER__HOST_DELAY_S="0.5")
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    try:
        while len(spooled_urls(data_dir)) < 8:
            if proc.poll() is not None:
                pytest.fail(
                    f"the crawl ended before it could be killed:\n{proc.stdout.read()[-3000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail("the crawl spooled no pages within 120 s")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    first = len(spooled_urls(data_dir))
    assert first < len(lab_world.truth["reachable_pages"]), "killed too late to test anything"

    done = run_heroes(lab_world, data_dir, ["crawl", "--job", "k"], HEROES_CRAWLER__CONCURRENCY="2")
    assert done.returncode == 0, done.stdout + done.stderr
    pages = indexed(data_dir, "page")
    per_url = Counter(doc["url"] for doc in pages)
    assert {u for u, n in per_url.items() if n > 1} == set()
    missing = set(lab_world.truth["reachable_pages"]) - set(per_url)
    assert not missing, sorted(missing)[:5]
