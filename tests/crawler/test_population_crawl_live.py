"""``heroes crawl --forever`` over several short scheduling rounds on the lab population, one
service for the whole module (the population's own request log and the lab client's stem
events are the witnesses): plain-text onions are queued and crawled, mirror groups are grouped
on the service documents and only the group's primary is crawled deeply again, the
rate-limited onion never answers 429 twice in a row, the calendar trap stays within the
per-host page cap, an intermittent service is marked down and then up again, dead services are
backed off, and no NEWNYM is sent for dead or intermittently down services."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from config.loader import load_settings
from crawler.frontier import open_store
from crawler.run import SERVICE_JOB, job_dir
from tests.crawler.conftest import ROOT, LabWorld
from tests.crawler.observe import newnym_watch, reap, wait_for
from tests.crawler.population_fixture import LabPopulation
from tests.crawler.test_service_live import SERVICE_ENV

pytestmark = pytest.mark.tor

TRAP_CAP = 25  # crawler.max_pages_per_host: what bounds the calendar (its paths look normal)
# The host-down wait of the fetch path kept within the rounds, as the re-checks are.
ENV = {**SERVICE_ENV, "HEROES_CRAWLER__MAX_RECHECK_S": "60",
       "HEROES_CRAWLER__HOST_DOWN_BACKOFF_S": "20",
       "HEROES_CRAWLER__MAX_HOST_DOWN_BACKOFF_S": "60",
       "HEROES_CRAWLER__MAX_PAGES_PER_HOST": str(TRAP_CAP),
       "HEROES_CRAWLER__CONCURRENCY": "8"}
FOUND_TIMEOUT_S = 600.0
ROUND_TIMEOUT_S = 240.0
FLAKY = "pop-flaky-command"
# The crawl's log line for each NEWNYM: (the SOCKS error, the onion it was for).
NEWNYM_REASON = re.compile(r"NEWNYM \(reason: \d+ circuit failures in a row, the last "
                           r"SOCKS error (0x[0-9a-f]{2})[^']*'([a-z2-7]{56}\.onion)'")


@dataclass
class Service:
    proc: subprocess.Popen[str]
    log: Path
    env: dict[str, str]
    events: list[str] = field(default_factory=list)  # the client's NEWNYM signals and notices

    def wait(self, what: str, done: Any, timeout_s: float) -> None:
        wait_for(what, done, self.proc, timeout_s, self.log)

    def services(self) -> dict[str, dict[str, Any]]:
        """host -> the indexed service document (the latest state of each host)."""
        done = subprocess.run([sys.executable, "-m", "heroes.cli", "search", "--kind",
                               "service", "*", "--limit", "10000", "--json"],
                              cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            return {}
        hits = json.loads(done.stdout)["hits"]["hits"]
        return {h["_source"]["host"]: h["_source"] for h in hits}

    def job_db(self) -> Path:
        return job_dir(load_settings(environ=self.env), SERVICE_JOB) / "job.sqlite"


def fetched(requests: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [r for r in requests if r["service"] == service and r["path"] != "/lab-probe"]


@pytest.fixture(scope="module")
def service(lab_world: LabWorld, lab_population: LabPopulation,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("population-crawl")
    env = lab_world.crawl_env(tmp / "data", **ENV)
    log = tmp / "service.log"
    with newnym_watch(lab_world.info["control"]["port"]) as events:
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "heroes.cli", "-v", "crawl", lab_population.seed_url,
                 "--forever", "--json"],
                cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=stderr, env=env)
        try:
            yield Service(proc, log, env, events)
        finally:
            reap(proc)


def test_plain_text_onions_are_queued_and_crawled(
    service: Service, lab_population: LabPopulation
) -> None:
    hidden = sorted(lab_population.truth["text_only"])
    assert hidden

    def all_found() -> bool:
        requests = lab_population.requests()
        return all(any(r["path"] == "/" and r["status"] == 200 for r in fetched(requests, name))
                   for name in hidden)

    service.wait(f"front pages of the text-only services {hidden}", all_found, FOUND_TIMEOUT_S)


def test_mirrors_are_grouped_and_only_the_primary_is_crawled_deeply_again(
    service: Service, lab_population: LabPopulation
) -> None:
    truth = lab_population.truth
    groups = {g: sorted(lab_population.onion(n) for n in names)
              for g, names in truth["mirror_groups"].items()}
    names = {lab_population.onion(n): n for members in truth["mirror_groups"].values()
             for n in members}

    def grouped() -> bool:
        docs = service.services()
        return all({docs.get(o, {}).get("mirror_group") for o in onions} == {onions[0]}
                   for onions in groups.values())

    service.wait("the mirror groups on the service documents", grouped, FOUND_TIMEOUT_S)
    others = {o for onions in groups.values() for o in onions[1:]}
    def marked_uptime_only() -> bool:
        store = open_store(load_settings(environ=service.env), SERVICE_JOB, service.job_db())
        try:
            return others <= store.uptime_only_hosts()
        finally:
            store.close()

    service.wait("the mirrors marked uptime-only on the frontier", marked_uptime_only,
                 ROUND_TIMEOUT_S)

    def deep(requests: list[dict[str, Any]], name: str) -> int:
        return sum(1 for r in fetched(requests, name) if r["path"] != "/")

    def front(requests: list[dict[str, Any]], name: str) -> int:
        return sum(1 for r in fetched(requests, name) if r["path"] == "/")

    # A fetch already leased when the set was written may still land: let them finish.
    start = lab_population.requests()
    service.wait("every mirror's front page re-checked twice", lambda: all(
        front(lab_population.requests(), names[o]) >= front(start, names[o]) + 2
        for onions in groups.values() for o in onions), ROUND_TIMEOUT_S)
    marked = lab_population.requests()
    service.wait("the primaries' deep pages fetched again and every front page re-checked",
                 lambda: all(
                     deep(lab_population.requests(), names[onions[0]]) > deep(marked,
                                                                           names[onions[0]])
                     and all(front(lab_population.requests(), names[o]) > front(marked, names[o])
                             for o in onions)
                     for onions in groups.values()), ROUND_TIMEOUT_S)
    now = lab_population.requests()
    assert {names[o]: deep(now, names[o]) - deep(marked, names[o]) for o in others} == {
        names[o]: 0 for o in others}


def test_the_rate_limited_onion_never_answers_429_twice_in_a_row(
    service: Service, lab_population: LabPopulation
) -> None:
    limited = lab_population.truth["rate_limited"]["service"]
    pages = len(lab_population.truth["services"][limited]["pages"])
    service.wait(f"{pages} pages of {limited} served", lambda: len(
        {r["path"] for r in fetched(lab_population.requests(), limited) if r["status"] == 200}
    ) >= pages, FOUND_TIMEOUT_S)
    statuses = [r["status"] for r in fetched(lab_population.requests(), limited)]
    twice = [i for i in range(1, len(statuses)) if statuses[i] == statuses[i - 1] == 429]
    assert not twice, statuses


def test_the_calendar_trap_stays_within_the_page_cap(
    service: Service, lab_population: LabPopulation
) -> None:
    trap = lab_population.truth["trap"]
    prefix = urlsplit(trap["prefix"]).path

    def months() -> set[str]:
        return {r["path"] for r in fetched(lab_population.requests(), trap["service"])
                if r["path"].startswith(prefix)}

    service.wait("the calendar crawled", lambda: len(months()) >= TRAP_CAP // 3,
                 FOUND_TIMEOUT_S)
    service.wait("the calendar's front page re-checked", lambda: sum(
        1 for r in fetched(lab_population.requests(), trap["service"]) if r["path"] == "/"
    ) >= 2, ROUND_TIMEOUT_S)
    paths = {r["path"] for r in fetched(lab_population.requests(), trap["service"])}
    assert len(paths) <= TRAP_CAP, sorted(paths)


def test_an_intermittent_service_is_marked_down_then_up_again(
    service: Service, lab_population: LabPopulation
) -> None:
    onion = lab_population.onion(FLAKY)
    service.wait(f"{FLAKY} up on its service document",
                 lambda: service.services().get(onion, {}).get("up") is True, FOUND_TIMEOUT_S)
    lab_population.control.take_down(FLAKY)
    try:
        service.wait(f"{FLAKY} down on its service document",
                     lambda: service.services().get(onion, {}).get("up") is False,
                     ROUND_TIMEOUT_S)
    finally:
        lab_population.control.bring_up(FLAKY)
    service.wait(f"{FLAKY} up again on its service document",
                 lambda: service.services().get(onion, {}).get("up") is True, ROUND_TIMEOUT_S)


def test_dead_services_back_off_and_no_newnym_is_sent_for_them(
    service: Service, lab_population: LabPopulation
) -> None:
    dead = lab_population.truth["dead_onions"]
    settings = load_settings(environ=service.env)

    def backed_off() -> bool:
        store = open_store(settings, SERVICE_JOB, service.job_db())
        try:
            return all(store.host(o).deferred_s > 0 or not store.host(o).admitted for o in dead)
        finally:
            store.close()

    service.wait("every queued dead onion deferred on the frontier", backed_off,
                 ROUND_TIMEOUT_S)
    service.proc.send_signal(signal.SIGTERM)
    service.proc.communicate(timeout=180)
    assert service.proc.returncode == 0, service.log.read_text()[-4000:]
    output = service.log.read_text()
    assert "heroes/service/host_failures" in output, output[-3000:]
    # Every NEWNYM the client acted on is one the crawl logged with its reason, and no reason
    # is a dead or intermittently down onion: those are the services' state, never a circuit
    # problem. (A circuit that really failed three times in a row on a live onion may still
    # ask for one: on a busy machine it does.)
    reasons = NEWNYM_REASON.findall(output)
    signals = [e for e in service.events if e.startswith("SIGNAL")]
    assert len(signals) <= len(reasons), (service.events, reasons)
    not_circuits = set(dead) | {o["onion"] for o in lab_population.truth["intermittent"].values()}
    assert [r for r in reasons if r[1] in not_circuits] == [], reasons
