"""The crawl's Tor circuits as a metric, read with stem from the lab's Tor client: through the
crawl's own pool and through each endpoint's control port; a client that cannot be asked is
left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from config.sections.tor import TorSettings
from crawler.tor.client import TorEndpoint, TorPool, count_built
from crawler.tor.metrics import circuit_samples, forget_circuits, watch_circuits
from heroes.lab.tor_network import socks_get
from telemetry.metrics import REGISTRY
from tests.crawler.conftest import LabWorld
from tests.crawler.observe import poll

pytestmark = pytest.mark.tor


def circuits_metric() -> dict[str, float]:
    text = generate_latest(REGISTRY).decode()
    return {s.labels["client"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "heroes_tor_circuits"}


def test_built_circuits_per_client_are_reported_and_forgotten(
    lab_world: LabWorld, tmp_path: Path
) -> None:
    control = lab_world.info["control"]["port"]
    settings = TorSettings(mode="attach", control_ports=[control])
    with TorPool(settings, tmp_path) as pool:
        (endpoint,) = pool.endpoints
        host = lab_world.seed_url.split("/")[2]
        status, _ = socks_get(endpoint.socks_port, host, "/", username="metrics-test", timeout=60)
        assert status == 200
        built = poll(lambda: count_built(pool._controllers[0]), "a built circuit", 60.0)
        assert built >= 1
        watch_circuits("circuits-job", pool.endpoints, pool)
        try:
            assert poll(lambda: circuits_metric().get("0"), "the metric", 60.0) >= 1
            # Without the pool: a short-lived control connection per endpoint; the endpoint
            # whose control port does not answer is left out.
            unreachable = TorEndpoint("127.0.0.1", 9, 9)
            samples = circuit_samples([endpoint, unreachable])
            assert set(samples) == {("0",)} and samples[("0",)] >= 1
        finally:
            forget_circuits("circuits-job")
    assert "0" not in circuits_metric()
