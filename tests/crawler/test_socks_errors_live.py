"""On the lab Tor network: an onion whose descriptor was never published is a dead service,
not a broken circuit. The crawl records it down with Tor's 0xF0, does not retry it, and no
NEWNYM reaches the Tor client (counted by the client itself, through SIGNAL events)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from heroes.lab.site_entities import service_key
from tests.crawler.conftest import LabWorld, indexed, run_heroes
from tests.crawler.observe import newnym_watch

pytestmark = pytest.mark.tor


def test_an_unpublished_onion_is_down_and_costs_no_newnym(
    lab_world: LabWorld, tmp_path: Path
) -> None:
    # A real ed25519 key nobody runs: a valid v3 address with no descriptor anywhere.
    host = service_key(secrets.randbits(64), "never-published").hostname
    data_dir = tmp_path / "data"
    with newnym_watch(lab_world.info["control"]["port"]) as events:
        done = run_heroes(
            lab_world, data_dir,
            ["-v", "crawl", f"http://{host}/", "--job", "dead", "--json"],
            # NEWNYM would be due after the first circuit failure, were 0xF0 one.
            HEROES_TOR__NEWNYM_AFTER_FAILURES="1",
        )
    output = done.stdout + done.stderr
    during = list(events)

    assert done.returncode == 0, f"crawl failed ({done.returncode}):\n{output[-4000:]}"
    # A NEWNYM the crawl asked for shows as its SIGNAL event, or (asked for within 10 s of
    # the last one) as the client's notice that it is delayed.
    assert not during, f"NEWNYM during the crawl: {during}\n{output[-3000:]}"
    assert "NEWNYM" not in output
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    assert (summary["pages"], summary["page_errors"], summary["services_up"]) == (0, 1, 0)
    assert "'heroes/socks/error_0xf0': 1" in output, output[-3000:]
    assert "'heroes/hosts/down': 1" in output
    assert "retry/count" not in output  # a dead onion is not retried as a circuit error

    services = {doc["host"]: doc for doc in indexed(data_dir, "service")}
    service = services[host]
    assert service["up"] is False and "last_up" not in service
    assert len(service["history"]) == 1
    check = service["history"][0]
    assert check["up"] is False
    assert "0xf0" in check["error"] and "descriptor not found" in check["error"]
