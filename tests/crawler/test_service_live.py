"""``heroes crawl --forever`` on the lab world, over two scheduling rounds (small intervals):
a page changed between the rounds is indexed again, unchanged pages are fetched again but
skipped by their body hash, no page is fetched twice within its re-fetch interval, and
SIGTERM ends the service with exit 0 and no lease held."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.crawler.conftest import ROOT, LabWorld, run_heroes
from tests.crawler.observe import captures, reap, spooled_urls, wait_for

pytestmark = pytest.mark.tor

REFETCH_S = 15.0
SERVICE_ENV = {
    "HEROES_CRAWLER__RECRAWL_INTERVAL_H": str(REFETCH_S / 3600),
    "HEROES_CRAWLER__REFETCH_INTERVAL_S": str(REFETCH_S),
    "HEROES_CRAWLER__MAX_RECHECK_S": "30",
    "HEROES_CRAWLER__SERVICE_SCAN_S": "5",
    "HEROES_CRAWLER__CONCURRENCY": "4",
    "HEROES_FRONTIER__LEASE_S": "20",
}


def page_file(world: LabWorld, url: str) -> Path:
    host, path = url.split("/")[2], url.split("/", 3)[3] or "index.html"
    service = next(n for n, s in world.truth["services"].items() if s["onion"] == host)
    return world.dir / "sites" / world.truth["services"][service]["dir"] / path


def test_forever_reindexes_changed_pages_only_and_stops_cleanly(
    lab_world: LabWorld, tmp_path: Path
) -> None:
    reachable = set(lab_world.truth["reachable_pages"])
    changed = next(u for u in sorted(reachable) if u.endswith("/about.html"))
    target = page_file(lab_world, changed)
    original = target.read_bytes()
    data_dir = tmp_path / "data"
    args = [sys.executable, "-m", "heroes.cli", "crawl", lab_world.seed_url, "--forever",
            "--no-drain", "--json"]
    log = tmp_path / "service.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(args, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=stderr,
                                env=lab_world.crawl_env(data_dir, **SERVICE_ENV))
    try:
        def fetched(times: int) -> Callable[[], bool]:
            def check() -> bool:
                counts = Counter(c["url"] for c in captures(data_dir))
                return all(counts[url] >= times for url in reachable)
            return check

        wait_for("first round", fetched(1), proc, 150, log)
        wait_for("first round in the spool", lambda: reachable <= set(spooled_urls(data_dir)),
                 proc, 30, log)
        target.write_bytes(original + b"\n<!-- revised listing -->\n")
        wait_for("second round", fetched(2), proc, 90, log)
        wait_for("changed page indexed again",
                 lambda: Counter(spooled_urls(data_dir))[changed] == 2, proc, 30, log)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        target.write_bytes(original)
        reap(proc)
    assert proc.returncode == 0, out[-2000:] + log.read_text()[-4000:]
    summary = json.loads(out[out.index("{"):])
    spooled = Counter(spooled_urls(data_dir))
    assert spooled[changed] == 2
    assert {u: n for u, n in spooled.items() if u in reachable and u != changed and n != 1} == {}
    # Every other reachable page came back unchanged at least once (skipped by its hash).
    assert summary["unchanged"] >= len(reachable) - 1, summary
    fetch_times: dict[str, list[datetime]] = defaultdict(list)
    for capture in captures(data_dir):
        fetch_times[capture["url"]].append(datetime.fromisoformat(capture["fetched_at"]))
    for url in reachable:
        times = sorted(fetch_times[url])
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert all(gap >= REFETCH_S - 1 for gap in gaps), (url, gaps)
    status = run_heroes(lab_world, data_dir, ["crawl", "status", "--json"], timeout=60,
                        **SERVICE_ENV)
    assert status.returncode == 0, status.stdout + status.stderr
    state = json.loads(status.stdout)
    assert state["leased"] == 0 and state["holders"] == [], state
    assert state["frontier"]["queued"] >= len(reachable), state
    assert os.path.exists(data_dir / "crawl-jobs" / "service" / "job.sqlite")
