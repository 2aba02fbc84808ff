"""Three crawler processes on one Redis frontier crawl the lab population (its many onions,
the default host affinity, each process on its own data directory like machines that share
only Redis), and one is SIGKILLed mid-crawl. Every URL the frontier admitted for an onion
that stays up is done and in a spool, no page twice in one place and none fetched by both
survivors; the only pages fetched twice are those the killed crawler had in hand, and its
leases and hosts came back to the others.

Each onion is capped at ``CAP`` pages (the calendar trap never ends), and the slow onion
answers in a second for this test."""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from config.loader import load_settings
from crawler.frontier import open_store
from crawler.run import job_dir
from tests.conftest import LabRedis
from tests.crawler.conftest import LabWorld
from tests.crawler.observe import captures, reap, spooled_urls, wait_for
from tests.crawler.population_fixture import OPTIONS, LabPopulation
from tests.crawler.redis_crawlers import finish, frontier_status, log_path, start

pytestmark = pytest.mark.tor

CAP = 20
JOB = "shared"
ENV = {"HEROES_FRONTIER__BACKEND": "redis", "HEROES_FRONTIER__LEASE_S": "8",
       "HEROES_FRONTIER__PAUSE_CHECK_S": "0.5", "HEROES_CRAWLER__CONCURRENCY": "8",
       "HEROES_CRAWLER__MAX_PAGES_PER_HOST": str(CAP),
       # An intermittent onion down mid-crawl is waited for within the test.
       "HEROES_CRAWLER__HOST_DOWN_BACKOFF_S": "20",
       "HEROES_CRAWLER__MAX_HOST_DOWN_BACKOFF_S": "60"}
# Onions that answer whenever asked (the intermittent, dead, text-only ones and the mirrors,
# whose repeated content is not followed, are left out of the exact count).
STEADY = ("generic", "directory", "slow", "rate_limited", "changing")


def test_three_crawlers_on_the_population_one_killed_every_admitted_page_once(
    lab_world: LabWorld, lab_population: LabPopulation, tmp_path: Path, redis_lab: LabRedis
) -> None:
    truth = lab_population.truth
    steady = {s["onion"] for s in truth["services"].values() if s["role"] in STEADY}
    dirs = [tmp_path / name for name in ("one", "two", "three")]
    logs = [log_path(d) for d in dirs]
    lab_population.control.set_slow_delay(1.0)
    procs = [start(lab_world, d, redis_lab.url, seed=lab_population.seed_url, env=ENV)
             for d in dirs]
    try:
        wait_for("pages from crawler three", lambda: len(spooled_urls(dirs[2])) >= 5, procs,
                 150, logs)
        os.kill(procs[2].pid, signal.SIGKILL)
        procs[2].wait(timeout=30)
        finish(procs[:2], dirs[:2], timeout_s=600)
    finally:
        reap(procs)
        lab_population.control.set_slow_delay(OPTIONS.slow_delay_s)

    spooled = [Counter(spooled_urls(d)) for d in dirs]
    for counts in spooled:
        assert {u for u, n in counts.items() if n > 1} == set()
    everywhere = set().union(*spooled)
    fetched = [Counter(c["url"] for c in captures(d) if c["status"] == 200) for d in dirs]
    assert set(fetched[0]) & set(fetched[1]) == set()
    assert all(n == 1 for counts in fetched for n in counts.values())
    twice = (set(fetched[0]) | set(fetched[1])) & set(fetched[2])
    assert len(twice) <= 8 + 4, sorted(twice)  # the killed crawler's downloads in flight

    # The survivors' queue was in Redis: only retries and redirects stayed in their memory.
    for log in logs[:2]:
        added, leased, local = map(int, re.search(
            r"frontier: (\d+) added, (\d+) leased, (\d+) kept", log.read_text()).groups())
        assert leased > 0 and local < (added + leased) / 4, (log.stem, added, leased, local)

    # The frontier's own account: every URL it admitted for a steady onion is done, and
    # each of them is in one of the spools.
    settings = load_settings(environ=lab_world.crawl_env(
        dirs[0], HEROES_COORDINATION__REDIS_URL=redis_lab.url, **ENV))
    store = open_store(settings, JOB, job_dir(settings, JOB) / "job.sqlite")
    try:
        for onion in sorted(steady):
            state = store.host(onion)
            assert (state.queued, state.leased, state.failed) == (0, 0, 0), state
            assert 0 < state.admitted <= CAP and state.done == state.admitted, state
            pages = {u for u in everywhere if urlsplit(u).hostname == onion}
            assert len(pages) == state.admitted, (onion, sorted(pages)[:5], state)
    finally:
        store.close()
    status = frontier_status(lab_world, dirs[0], redis_lab.url, env=ENV)
    assert status["leased"] == 0 and status["holders"] == [], status
