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
from heroes.lab import dht as lab_dht
from heroes.lab import swarm
from heroes.lab.world import swarm_infohashes
from index.store import Store
from monitors.probe import Probe
from monitors.targets import Target, parse_target

LAB_IPS = {p.ip for p in swarm.PEERS}
# Every lab DHT node shares 127.0.0.0/8: the real-network defences would keep just one.
LAB_DHT = {"dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
           "dht_prefer_verified_node_ids": False, "dht_ignore_dark_internet": False}


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


@pytest.fixture(scope="package")
def lab_dht_world(tmp_path_factory: pytest.TempPathFactory,
                  lab_swarm: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The lab DHT merged with the lab swarm's, as the lab world runs them.

    Up from its first use until the swarm goes down: the swarm's nodes learn its nodes, and
    stopping it early would leave the swarm's routing tables full of dead nodes that every
    later DHT-only lookup must time out on.
    """
    lab_dir = tmp_path_factory.mktemp("labdht")
    try:
        info = lab_dht.up(lab_dir, nodes=100, hashes=3000, net=62,
                          join=lab_swarm["dht_bootstrap"], expect=swarm_infohashes(lab_swarm))
    except Exception as exc:
        pytest.fail(f"lab DHT did not start: {exc}")
    try:
        yield {**info, "swarm": lab_swarm}
    finally:
        lab_dht.down(lab_dir)


def probe_settings(data_dir: Path, info: dict[str, Any], **probe: Any) -> Settings:
    cfg = {"dht_bootstrap_nodes": [info["dht_bootstrap"]], "peer_poll_s": 0.2,
           "index_refresh_s": 1.0, "dht_revisit_s": 2.0, **LAB_DHT, **probe}
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
