"""Several probes split the targets: by probe.shard, or through Redis with a heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings
from index.store import Store
from monitors.probe import Probe
from monitors.shards import RedisShards, owner_of, shard_of
from monitors.targets import Target

HEARTBEAT_S = 1.0
N_TARGETS = 300


def random_targets(n: int, seed: int = 7) -> list[Target]:
    rng = random.Random(seed)
    return [Target(rng.randbytes(20).hex(), None) for _ in range(n)]


def test_shard_and_rendezvous_cover_every_key_once_and_move_only_the_lost_ones() -> None:
    keys = [t.key for t in random_targets(10_000)]
    parts = Counter(shard_of(k, 3) for k in keys)
    assert set(parts) == {1, 2, 3} and min(parts.values()) > 3000
    members = ["probe-a", "probe-b", "probe-c"]
    before = {k: owner_of(k, members) for k in keys}
    assert min(Counter(before.values()).values()) > 3000
    after = {k: owner_of(k, ["probe-a", "probe-c"]) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert moved and all(before[k] == "probe-b" for k in moved)
    assert {k for k in keys if before[k] == "probe-b"} == set(moved)


def settings_for(tmp: Path, n: int, **probe: Any) -> Settings:
    coordination = probe.pop("coordination", {})
    return load_settings(None, overrides={
        "data_dir": str(tmp / f"p{n}"), "coordination": coordination,
        "probe": {"probe_id": f"probe-{n}", "listen_ip": f"127.0.0.{70 + n}", "dht": False,
                  "pex": False, "metadata": False, "peer_poll_s": 0.2, **probe}})


@contextlib.asynccontextmanager
async def running(settings: Settings, targets: list[Target]) -> AsyncIterator[Probe]:
    store = Store(settings)
    stop = asyncio.Event()
    try:
        async with Probe(settings, store, targets=targets, use_index=False) as probe:
            task = asyncio.create_task(probe.run(stop))
            try:
                yield probe
            finally:
                stop.set()
                await task
    finally:
        store.close()


async def wait_for(cond: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.1f}s")
        await asyncio.sleep(0.05)


def exactly_once(probes: list[Probe], targets: list[Target]) -> bool:
    seen = Counter(k for p in probes for k in p.watcher.targets)
    return set(seen) == {t.key for t in targets} and set(seen.values()) == {1}


async def test_three_probes_with_shard_cover_every_target_once(tmp_path: Path) -> None:
    targets = random_targets(N_TARGETS)
    async with contextlib.AsyncExitStack() as stack:
        probes = [await stack.enter_async_context(
            running(settings_for(tmp_path, n, shard=f"{n}/3"), targets)) for n in (1, 2, 3)]
        assert exactly_once(probes, targets)
        assert all(len(p.watcher.targets) > N_TARGETS / 6 for p in probes)


async def test_three_probes_with_redis_cover_every_target_once(tmp_path: Path,
                                                                redis_url: str) -> None:
    targets = random_targets(N_TARGETS)
    coordination = {"redis_url": redis_url, "heartbeat_s": HEARTBEAT_S}
    async with contextlib.AsyncExitStack() as stack:
        probes = [await stack.enter_async_context(running(
            settings_for(tmp_path, n, coordination=coordination), targets)) for n in (1, 2, 3)]
        await wait_for(lambda: all(len(p.split.members) == 3 for p in probes),
                       "all three probes see each other", 4 * HEARTBEAT_S)
        await wait_for(lambda: exactly_once(probes, targets), "every target watched once",
                       4 * HEARTBEAT_S)
        assert all(isinstance(p.split, RedisShards) for p in probes)


def config_file(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "killed.toml"
    path.write_text(
        "[probe]\nprobe_id = \"probe-9\"\nlisten_ip = \"127.0.0.79\"\ndht = false\npex = false\n"
        "metadata = false\n"
        f"[coordination]\nredis_url = \"{redis_url}\"\nheartbeat_s = {HEARTBEAT_S}\n")
    return path


async def test_targets_of_a_killed_probe_move_within_two_heartbeats(tmp_path: Path,
                                                                    redis_url: str) -> None:
    targets = random_targets(N_TARGETS)
    argv = [sys.executable, "-m", "heroes.cli", "--config", str(config_file(tmp_path, redis_url)),
            "--data-dir", str(tmp_path / "p9"), "probe", "--no-index", "--no-drain", "--json",
            "--every", "0.5"]
    for t in targets:
        argv += ["--hash", t.key]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    killed = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)
    coordination = {"redis_url": redis_url, "heartbeat_s": HEARTBEAT_S}
    try:
        async with contextlib.AsyncExitStack() as stack:
            probes = [await stack.enter_async_context(running(
                settings_for(tmp_path, n, coordination=coordination), targets)) for n in (1, 2)]
            everyone = ["probe-1", "probe-2", "probe-9"]
            theirs = {t.key for t in targets if owner_of(t.key, everyone) == "probe-9"}
            assert theirs
            await wait_for(lambda: all(p.split.members == tuple(everyone) for p in probes),
                           "the subprocess probe registered", 30.0)
            await wait_for(lambda: not any(k in p.watcher.targets for p in probes
                                           for k in theirs),
                           "its targets left the others", 4 * HEARTBEAT_S)
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=10)
            await wait_for(lambda: exactly_once(probes, targets),
                           "the killed probe's targets watched by the others",
                           2 * HEARTBEAT_S + 0.5)
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait(timeout=10)
