"""Tor clients for the crawler on the lab network: launched with stem (and gone when the pool
closes), or attached by control port; an unreachable Tor stops the command before work."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.sections.tor import TorSettings
from crawler.errors import TorUnavailable
from crawler.tor.client import TorPool
from heroes.lab.processes import start_time_of
from heroes.lab.tor_network import socks_get
from tests.crawler.conftest import LabWorld, run_heroes

pytestmark = pytest.mark.tor


def test_launched_client_fetches_an_onion_and_exits_with_the_pool(
    lab_world: LabWorld, tmp_path: Path
) -> None:
    settings = TorSettings(mode="launch", extra_torrc=lab_world.info["client_torrc"])
    with TorPool(settings, tmp_path) as pool:
        (endpoint,) = pool.endpoints
        process = pool._processes[0]
        host = lab_world.seed_url.split("/")[2]
        status, body = socks_get(endpoint.socks_port, host, "/", username="pool-test", timeout=60)
        assert status == 200 and b"<html" in body.lower()
    # take_ownership: the tor is gone with its controller, nothing is left running.
    assert process.poll() is not None  # type: ignore[attr-defined]
    assert start_time_of(process.pid) is None  # type: ignore[attr-defined]


def test_attach_to_the_lab_client(lab_world: LabWorld, tmp_path: Path) -> None:
    settings = TorSettings(mode="attach", control_ports=[lab_world.info["control"]["port"]])
    with TorPool(settings, tmp_path) as pool:
        assert pool.endpoints[0].socks_port == lab_world.info["socks"]["port"]


def test_unreachable_control_port_is_a_dependency_error(
    lab_world: LabWorld, tmp_path: Path
) -> None:
    with pytest.raises(TorUnavailable, match=r"127\.0\.0\.1:9"):
        TorPool(TorSettings(mode="attach", control_ports=[9]), tmp_path).start()
    done = run_heroes(
        lab_world, tmp_path, ["crawl", lab_world.seed_url], HEROES_TOR__CONTROL_PORTS="[9]"
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "control port 127.0.0.1:9" in done.stderr
