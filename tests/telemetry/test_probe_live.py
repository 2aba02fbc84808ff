"""A probe on the lab swarm with its drain and the metrics listener: peers counted by level,
observations drained, and payload bytes that stay 0 — all read from the scrape."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from heroes.metrics import snapshot_sources, with_metrics
from index.store import Store
from monitors.probe import Probe
from tests.monitors import conftest as probe_fixtures
from tests.monitors.conftest import lab_targets, probe_settings
from tests.telemetry.test_service import Samples, scrape, serving, value

pytestmark = pytest.mark.swarm

# The probe tests' fixture: the lab swarm is started one way, and once for this package.
lab_swarm = probe_fixtures.lab_swarm


def by_name(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


async def test_a_probe_counts_peers_by_level_and_moves_no_payload(
        lab_swarm: dict[str, Any], tmp_path: Path) -> None:
    settings = probe_settings(tmp_path / "data", lab_swarm, listen_ip="127.0.0.93",
                              announce=True, dht=False, pex=False)
    settings = settings.model_copy(update={"metrics": settings.metrics.model_copy(
        update={"listen": "127.0.0.1:0"})})
    store = Store(settings)
    try:
        probe = Probe(settings, store, targets=lab_targets(lab_swarm), use_index=False)
        roles = with_metrics(settings, store, [store.drain_role(), probe],
                             sources=snapshot_sources("probe", probe.snapshot))
        async with serving(roles) as base:
            before = await scrape(base)
            deadline = time.monotonic() + 90
            while True:
                now = await scrape(base)
                handshaken = sum(v for labels, v in by_name(now, "heroes_peers").items()
                                 if dict(labels)["level"] != "L0")
                drained = value(now, "heroes_drained_documents_total", kind="observation")
                if handshaken and drained > value(
                        before, "heroes_drained_documents_total", kind="observation"):
                    break
                assert time.monotonic() < deadline, f"no handshaken peer drained: {now}"
                await asyncio.sleep(0.2)
    finally:
        store.close()
    observed = by_name(now, "heroes_peer_observations_total")
    assert sum(v for labels, v in observed.items() if dict(labels)["level"] != "L0") > 0
    assert value(now, "heroes_probe_targets", state="watched") == len(lab_targets(lab_swarm))
    payload = by_name(now, "heroes_payload_bytes")
    assert payload and set(payload.values()) == {0.0}
    assert probe.summary.payload_ok
