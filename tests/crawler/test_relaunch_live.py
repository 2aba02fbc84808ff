"""A watched population service withdrawn from the lab Tor network and its site re-served under
a new onion (same favicon, PGP key and template): crawled through Tor before and after, the
analysis raises the relaunch alert naming both onions, with the values they share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerting.db import AlertDB, alert_db_path
from alerting.state import AlertState
from tests.analysis.lab_index import suppression_file
from tests.crawler.conftest import LabWorld, run_heroes
from tests.crawler.population_fixture import LabPopulation

pytestmark = pytest.mark.tor


def _service(data_dir: Path, lab_world: LabWorld, onion: str, env: dict[str, str]) -> dict:
    shown = run_heroes(lab_world, data_dir,
                       ["search", f"host:{onion}", "--kind", "service", "--json"], **env)
    assert shown.returncode == 0, shown.stderr[-3000:]
    (hit,) = json.loads(shown.stdout)["hits"]["hits"]
    return dict(hit["_source"])


def test_a_watched_service_withdrawn_and_relaunched_raises_the_alert_with_both_onions(
    lab_world: LabWorld, lab_population: LabPopulation, tmp_path: Path
) -> None:
    old, new = lab_population.truth["relaunch"]["old"], lab_population.truth["relaunch"]["new"]
    data_dir = tmp_path / "data"
    env = {"HEROES_ANALYSIS__SUPPRESS_FILES": json.dumps(
               [str(suppression_file(tmp_path / "suppress.txt"))]),
           "HEROES_ANALYSIS__COMMON_MIN_SERVICES": "100000"}

    def crawl(job: str, onion: str) -> None:
        done = run_heroes(lab_world, data_dir,
                          ["crawl", "run", f"http://{onion}/", "--job", job, "--json"], **env)
        assert done.returncode == 0, done.stderr[-3000:]

    lab_population.reach(old["onion"])
    crawl("before", old["onion"])
    watched = run_heroes(lab_world, data_dir, ["relaunch", "watch", old["onion"]], **env)
    assert watched.returncode == 0, watched.stderr[-3000:]
    lab_population.control.take_down(old["service"])
    try:
        crawl("after", old["onion"])  # a new job: the front page is asked for again
    finally:
        lab_population.control.bring_up(old["service"])
    assert _service(data_dir, lab_world, old["onion"], env)["up"] is False
    lab_population.reach(new["onion"])
    crawl("relaunched", new["onion"])
    analysed = run_heroes(lab_world, data_dir, ["analyse"], timeout=300, **env)
    assert analysed.returncode == 0, analysed.stderr[-3000:]

    listed = run_heroes(lab_world, data_dir, ["relaunch", "list", "--json"], **env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    (relaunch,) = json.loads(listed.stdout)["relaunches"]
    assert (relaunch["old"], relaunch["new"], relaunch["status"]) == (
        old["onion"], new["onion"], "candidate")
    assert {e["type"] for e in relaunch["evidence"]} >= {"favicon", "pgp", "text_near"}
    alerts = AlertState(AlertDB(alert_db_path(data_dir)))
    try:
        (alert,) = [a for a in alerts.list() if a.rule_type == "relaunch"]
    finally:
        alerts.db.close()
    facts = dict(alert.facts)
    assert (facts["Old onion"], facts["New onion"]) == (old["onion"], new["onion"])
    assert "Shared favicon" in facts and "Shared pgp" in facts
