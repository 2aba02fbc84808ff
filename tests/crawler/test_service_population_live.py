"""``heroes crawl --forever`` on the lab population: pages fetched again are conditional
requests, a static site answers them 304 and is not indexed again, and a page that changes
on every visit is indexed on every visit (the server's own request log is the witness)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.crawler.conftest import ROOT, LabWorld
from tests.crawler.observe import captures, reap, spooled_urls, wait_for
from tests.crawler.population_fixture import LabPopulation
from tests.crawler.test_service_live import SERVICE_ENV

pytestmark = pytest.mark.tor

STATIC = "pop-market-01"
NEWS = "pop-news"
COUNTER = "/counter.html"


def test_unchanged_pages_answer_304_and_changing_ones_are_indexed_again(
    lab_world: LabWorld, lab_population: LabPopulation, tmp_path: Path
) -> None:
    static, news = lab_population.onion(STATIC), lab_population.onion(NEWS)
    data_dir = tmp_path / "data"
    log = tmp_path / "service.log"
    lab_population.reach(static, news)
    started = time.time()
    args = [sys.executable, "-m", "heroes.cli", "crawl", f"http://{static}/",
            f"http://{news}{COUNTER}", "--forever", "--no-drain", "--json"]
    with log.open("w") as stderr:
        proc = subprocess.Popen(args, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=stderr,
                                env=lab_world.crawl_env(data_dir, **SERVICE_ENV))

    def static_requests() -> list[dict[str, object]]:
        # The population is shared by the session: other tests' crawls asked it too.
        return [r for r in lab_population.requests()
                if r["service"] == STATIC and r["at"] >= started]

    def static_revalidated() -> bool:
        seen = static_requests()
        served = {r["path"] for r in seen if r["status"] == 200}
        not_modified = {r["path"] for r in seen if r["status"] == 304 and r["if_none_match"]}
        return bool(served) and served <= not_modified

    counter_url = f"http://{news}{COUNTER}"
    try:
        wait_for("304 answers for every page of the static site", static_revalidated, proc,
                 150, log)

        def static_304s_handled() -> bool:
            # The server's log is written when it answers; the crawler counts the answer when
            # its pipeline captures it. A SIGTERM in between would stop the crawl before.
            answered = {r["path"] for r in static_requests() if r["status"] == 304}
            handled = {c["url"].split(static, 1)[1] for c in captures(data_dir)
                       if c["host"] == static and c["status"] == 304}
            return answered <= handled

        wait_for("the crawler to handle every 304 answer", static_304s_handled, proc, 60, log)
        wait_for("the counter page indexed twice",
                 lambda: Counter(spooled_urls(data_dir))[counter_url] >= 2, proc, 60, log)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        reap(proc)
    assert proc.returncode == 0, log.read_text()[-4000:]
    summary = json.loads(out[out.index("{"):])
    spooled = Counter(spooled_urls(data_dir))
    static_pages = {u: n for u, n in spooled.items() if u.startswith(f"http://{static}/")}
    assert static_pages and set(static_pages.values()) == {1}, static_pages
    assert summary["unchanged"] >= len(static_pages), summary
