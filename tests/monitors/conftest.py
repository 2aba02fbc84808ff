"""Fixtures of the probe tests: the lab swarm (started once per session) and a probe runner.

The swarm runs on 127.0.0.2-6 with its trackers on 127.0.0.1; run these tests inside
``scripts/loopback-only.sh`` as CI does. A swarm that does not come up fails the fixture
with the peers' and trackers' logs in the message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings
from heroes.lab import swarm
from index.store import Store
from monitors.probe import Probe
from monitors.targets import Target, parse_target

LAB_IPS = {p.ip for p in swarm.PEERS}


@pytest.fixture(scope="package")
def lab_swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    run_dir = tmp_path_factory.mktemp("swarm")
    try:
        info = swarm.up(run_dir)
    except swarm.SwarmError as exc:
        pytest.fail(f"lab swarm did not start: {exc}")
    try:
        yield info
    finally:
        swarm.down(run_dir)


def probe_settings(data_dir: Path, info: dict[str, Any], **probe: Any) -> Settings:
    cfg = {"dht_bootstrap_nodes": [info["dht_bootstrap"]], "peer_poll_s": 0.2,
           "index_refresh_s": 1.0, "dht_interval_s": 2.0, **probe}
    return load_settings(None, overrides={"data_dir": str(data_dir), "probe": cfg})


def lab_targets(info: dict[str, Any]) -> list[Target]:
    return [parse_target(t["magnet"]) for t in info["torrents"]]


async def run_probe(settings: Settings, *, targets: list[Target], done: Callable[[Probe], bool],
                    timeout: float = 60.0, use_index: bool = False,
                    seed_peers: list[tuple[str, int]] | None = None,
                    during: Callable[[Probe], Any] | None = None) -> Probe:
    """Run a probe until ``done(probe)`` holds (or fail after ``timeout``), then stop it."""
    store = Store(settings)
    stop = asyncio.Event()
    ok = False
    try:
        async with Probe(settings, store, targets=targets, use_index=use_index,
                         seed_peers=seed_peers or []) as probe:
            task = asyncio.create_task(probe.run(stop))
            deadline = time.monotonic() + timeout
            try:
                while time.monotonic() < deadline and not task.done():
                    if during is not None:
                        await during(probe)
                    if done(probe):
                        ok = True
                        break
                    await asyncio.sleep(0.2)
            finally:
                stop.set()
                await task
    finally:
        store.close()
    if not ok:
        seen = {k: (sorted(r.sources), r.level, r.have_fraction, r.ext_v)
                for k, r in probe.recorder.peers.items()}
        pytest.fail(f"probe condition not met in {timeout:.0f}s; peers seen: {seen}")
    return probe


def lab_peers_at(probe: Probe, key: str, min_level: int, need_fraction: bool = True) -> bool:
    """Every lab peer of target ``key`` reached ``min_level`` (the leecher at least level 1)."""
    for spec in swarm.PEERS:
        rec = probe.recorder.peers.get((key, spec.ip, swarm.PEER_PORT))
        if rec is None:
            return False
        want = 1 if spec.role == "leecher" else min_level
        if rec.level < want:
            return False
        if need_fraction and spec.role != "leecher" and rec.have_fraction is None:
            return False
    return True
