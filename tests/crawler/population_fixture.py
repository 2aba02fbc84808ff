"""The lab population (:mod:`heroes.lab.population`) on the package's lab world, started
once per session by the tests that ask for ``lab_population`` and stopped after them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from heroes.lab.population import PopulationControl, PopulationOptions, wait_all_answer

# The lab network votes every 10 s, and tor makes a test network's onion time period one
# shared-random run of that (24 votes: four minutes). After a period turns, a client can
# look for a descriptor where it is not yet, and then does not ask those directories again
# for a while (in full runs: minutes, about a quarter of an hour into the population's
# life, for every one of its services). A test that needs a service to answer from the
# start of its crawl waits for it first, as the population's start does (NEWNYM between
# rounds); the crawl itself is what it tests.
REACH_TIMEOUT_S = 420.0


@dataclass
class LabPopulation:
    dir: Path
    info: dict[str, Any]
    truth: dict[str, Any]
    control: PopulationControl
    net: dict[str, Any]  # the lab Tor network the population is published on

    @property
    def seed_url(self) -> str:
        return str(self.info["seed_url"])

    def onion(self, name: str) -> str:
        return str(self.truth["services"][name]["onion"])

    def reach(self, *onions: str) -> None:
        """Until every onion answers through the lab client (see REACH_TIMEOUT_S)."""
        wait_all_answer(self.net, list(onions), time.monotonic() + REACH_TIMEOUT_S)

    def requests(self) -> list[dict[str, Any]]:
        """Every request the population's server answered so far (one dict per request)."""
        path = Path(self.info["requests_log"])
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# Behaviour the crawler tests rely on; the slow onion's delay can be changed while running.
OPTIONS = PopulationOptions(seed=3, slow_delay_s=40.0, rate_limit=5, rate_window_s=10.0,
                            schedule_up_s=120.0, schedule_down_s=60.0, bulletin_period_s=60.0)


@pytest.fixture(scope="package")
def lab_population(lab_world: Any) -> Iterator[LabPopulation]:
    from heroes.lab import population
    from heroes.lab.tor_config import LabSetupError

    try:
        info = population.up(lab_world.dir, OPTIONS)
    except LabSetupError as exc:
        pytest.fail(f"the lab population did not come up: {exc}")
    try:
        yield LabPopulation(lab_world.dir, info, population.ground_truth(lab_world.dir),
                            PopulationControl(info["admin_url"]), lab_world.info)
    finally:
        population.down(lab_world.dir)
