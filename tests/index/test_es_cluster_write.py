"""Several drainers writing one 3-node Elasticsearch cluster at once: nothing lost, nothing doubled.

Each side is an installation of its own (a data directory with its spool) that saw the same
services, observations and torrents with different merged fields (sources, pieces, pages
found on, history). Whatever the interleaving, a crashed drainer or a crashed node, every
document ends up once in the cluster carrying the fields of both sides.

The cluster (replicas 1 for the test indices) is started once per session by
tests/es_node.py, and only when these tests run.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config import Settings
from documents import Document, Observation, Service, Torrent
from documents.service import Check
from heroes.lab.elasticsearch_node import ClusterHandle
from index.backends.elasticsearch import ElasticsearchBackend
from index.drain import Drainer
from index.spool import Spool
from index.store import Store
from tests import es_node as node_fixtures

es_cluster = node_fixtures.es_cluster
es_cluster_settings = node_fixtures.es_cluster_settings

pytestmark = pytest.mark.elasticsearch

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
HOST = "market{:0>52}.onion"
WAIT_S = 120.0


def side(name: str, n: int) -> list[Document]:
    """What one installation saw of ``n`` services, observations and torrents.

    Side "b" saw each observation first a month earlier, so merging moves it to an older
    monthly index.
    """
    a = name == "a"
    when = T0 if a else T0 - timedelta(days=31)
    docs: list[Document] = []
    for i in range(n):
        host = HOST.format(i)
        docs.append(Service(host=host, first_seen=when, last_seen=when + timedelta(hours=1),
                            history=[Check(at=when + timedelta(minutes=i % 50), up=a)]))
        docs.append(Observation(
            infohash=f"{i:040x}", ip="127.0.0.2", port=6881, sources=["tracker" if a else "dht"],
            verified_pieces=[0 if a else 1], first_seen=when, last_seen=when + timedelta(hours=1)))
        docs.append(Torrent(infohash=f"{i:040x}", first_seen=when,
                            found_on=[f"http://{host}/{name}"]))
    return docs


async def check_both_sides(settings: Settings, n: int) -> None:
    """Every document once, with the merged fields of both sides."""
    backend = ElasticsearchBackend(settings.elasticsearch)
    await backend.open(writer=False)
    try:
        await backend.refresh()
        for kind in ("service", "observation", "torrent"):
            # The alias spans every monthly index: a copy left behind would count twice.
            assert await backend.count(kind) == n, kind
        obs = await backend.get("observation", [d.id for d in side("a", n)
                                                if isinstance(d, Observation)])
        assert len(obs) == n
        for source in obs.values():
            assert source["sources"] == ["dht", "tracker"]
            assert source["verified_pieces"] == [0, 1]
            assert source["first_seen"].startswith("2026-10-03")
        torrents = await backend.get("torrent", [d.id for d in side("a", n)
                                                 if isinstance(d, Torrent)])
        assert len(torrents) == n
        for source in torrents.values():
            assert [u.rsplit("/", 1)[1] for u in source["found_on"]] == ["a", "b"]
        services = await backend.get("service", [d.id for d in side("a", n)
                                                 if isinstance(d, Service)])
        assert len(services) == n
        for source in services.values():
            assert sorted(c["up"] for c in source["history"]) == [False, True]
    finally:
        await backend.close()


def store_for(build: Callable[..., Settings], tmp_path: Path, name: str, prefix: str,
              batch_size: int = 25) -> Store:
    settings = build(prefix, data_dir=str(tmp_path / name),
                     index={"batch_size": batch_size, "batch_age_s": 0.05})
    return Store(settings)


async def drain_until_empty(stores: list[Store]) -> None:
    """Run each store's drain role (retrying through outages) until every spool is empty."""
    stop = asyncio.Event()
    roles = [store.drain_role(lock_poll_s=0.05) for store in stores]

    async def watch() -> None:
        deadline = time.monotonic() + WAIT_S
        while any(sum(s.spool.backlog().values()) for s in stores):
            assert time.monotonic() < deadline, "the spools were not drained in time"
            await asyncio.sleep(0.05)  # a poll interval; the condition is checked each time
        stop.set()

    async with asyncio.TaskGroup() as group:
        for role in roles:
            group.create_task(role.run(stop))
        group.create_task(watch())
    for store in stores:
        assert sum(store.spool.backlog().values()) == 0
        assert store.spool.rejected_count() == 0


async def test_two_drainers_at_once_keep_both_sides(
        es_cluster_settings: Callable[..., Settings], tmp_path: Path) -> None:
    n = 60
    prefix = "cboth"
    stores = [store_for(es_cluster_settings, tmp_path, name, prefix) for name in ("a", "b")]
    for store, name in zip(stores, ("a", "b"), strict=True):
        store.append(side(name, n))
    try:
        await drain_until_empty(stores)
        await check_both_sides(stores[0].settings, n)
    finally:
        for store in stores:
            store.close()


async def test_a_stale_read_is_merged_again_not_overwritten(
        es_cluster_settings: Callable[..., Settings]) -> None:
    """A writes after B changed what A had read: A's write is refused (409), and A re-reads."""
    settings = es_cluster_settings("cstale")
    n = 5
    a, b = (ElasticsearchBackend(settings.elasticsearch) for _ in range(2))
    await a.open(writer=True)
    await b.open(writer=True)
    try:
        await a.write(side("a", n)[:3])  # one of each kind exists, so B's write is an update
        read = a._read_copies
        raced = False

        async def read_then_race(kind: str, ids: list[str]) -> object:
            nonlocal raced
            copies = await read(kind, ids)
            if not raced:
                raced = True
                assert await b.write(side("b", n)) == []
            return copies

        a._read_copies = read_then_race  # type: ignore[method-assign]
        assert await a.write(side("a", n)) == []
        assert a.merge_counters.conflicts > 0
        await check_both_sides(settings, n)
    finally:
        await a.close()
        await b.close()


def write_config(path: Path, settings: Settings) -> Path:
    es = settings.elasticsearch
    hosts = ", ".join(f'"{h}"' for h in es.hosts)
    path.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'[index]\nbackend = "elasticsearch"\nbatch_size = {settings.index.batch_size}\n'
        f"batch_age_s = {settings.index.batch_age_s}\n"
        f'[elasticsearch]\nhosts = [{hosts}]\nindex_prefix = "{es.index_prefix}"\n'
        f"replicas = {es.replicas}\nretry_initial_backoff_s = 0.05\n", encoding="utf-8")
    return path


def drain_process(config: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "heroes.cli", "--config", str(config), "index", "drain", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


async def test_a_drainer_killed_at_a_random_point_loses_and_doubles_nothing(
        es_cluster_settings: Callable[..., Settings], tmp_path: Path) -> None:
    n = 150
    prefix = "ckill"
    stores = [store_for(es_cluster_settings, tmp_path, name, prefix, batch_size=20)
              for name in ("a", "b")]
    for store, name in zip(stores, ("a", "b"), strict=True):
        store.append(side(name, n))
        store.close()
    configs = [write_config(tmp_path / f"{name}.toml", store.settings)
               for store, name in zip(stores, ("a", "b"), strict=True)]
    killed_after = random.randint(1, 3 * n - 1)
    procs = [drain_process(config, "--forever") for config in configs]
    spool_b = Spool(Path(stores[1].settings.data_dir) / "spool.sqlite")
    try:
        deadline = time.monotonic() + WAIT_S
        while 3 * n - sum(spool_b.backlog().values()) < killed_after:
            assert procs[1].poll() is None, procs[1].stdout.read() if procs[1].stdout else ""
            assert time.monotonic() < deadline, "drainer b drained nothing"
            time.sleep(0.01)  # a poll interval; the condition is checked each time
        os.killpg(procs[1].pid, signal.SIGKILL)
        procs[1].wait(timeout=10)
        # Restarted: what the killed one had not taken off its spool is drained now.
        again = drain_process(configs[1])
        out, _ = again.communicate(timeout=WAIT_S)
        assert again.returncode == 0, out.decode(errors="replace")
        assert sum(spool_b.backlog().values()) == 0
        assert spool_b.rejected_count() == 0
        spool_a = Spool(Path(stores[0].settings.data_dir) / "spool.sqlite")
        try:
            while sum(spool_a.backlog().values()):
                assert procs[0].poll() is None
                assert time.monotonic() < deadline, "drainer a did not finish"
                time.sleep(0.05)  # a poll interval; the condition is checked each time
        finally:
            spool_a.close()
        procs[0].send_signal(signal.SIGTERM)
        out, _ = procs[0].communicate(timeout=60)
        assert procs[0].returncode == 0, out.decode(errors="replace")
        await check_both_sides(stores[0].settings, n)
    finally:
        spool_b.close()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


async def test_a_node_killed_mid_drain_loses_nothing(
        es_cluster: ClusterHandle, es_cluster_settings: Callable[..., Settings],
        tmp_path: Path) -> None:
    n = 120
    prefix = "cnode"
    stores = [store_for(es_cluster_settings, tmp_path, name, prefix, batch_size=20)
              for name in ("a", "b")]
    for store, name in zip(stores, ("a", "b"), strict=True):
        store.append(side(name, n))
    victim = es_cluster.nodes[1]

    async def kill_mid_drain() -> None:
        deadline = time.monotonic() + WAIT_S
        while sum(stores[0].spool.backlog().values()) > 2 * n:
            assert time.monotonic() < deadline, "nothing was drained"
            await asyncio.sleep(0.01)  # a poll interval; the condition is checked each time
        await asyncio.to_thread(victim.kill)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(kill_mid_drain())
            group.create_task(drain_until_empty(stores))
        assert not victim.running()
        await check_both_sides(stores[0].settings, n)
        await asyncio.to_thread(victim.start)
        await asyncio.to_thread(es_cluster.wait_ready, WAIT_S, "green")
        await check_both_sides(stores[0].settings, n)
    finally:
        for store in stores:
            store.close()


async def test_the_drains_merge_read_serves_its_conditional_write(
        es_cluster_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """One versioned read per kind and batch: the drain merges with it and the write quotes
    it; a copy changed between that read and the write is refused (409) and merged again."""
    settings = es_cluster_settings("conce")
    n = 5
    a, b = (ElasticsearchBackend(settings.elasticsearch) for _ in range(2))
    await a.open(writer=True)
    await b.open(writer=True)
    spool = Spool(tmp_path / "spool.sqlite")
    try:
        assert await a.write(side("a", n)) == []
        unchanged = a.merge_counters.unchanged
        reads: list[str] = []
        read = a._read_copies
        race = False

        async def counted(kind: str, ids: list[str]) -> object:
            reads.append(kind)
            copies = await read(kind, ids)
            if race and len(reads) == 1:
                assert await b.write(side("b", n)) == []  # under the drain's feet
            return copies

        a._read_copies = counted  # type: ignore[method-assign]
        spool.append(side("a", n))
        assert await Drainer(spool, a, batch_size=100).drain_all() == 3 * n
        assert sorted(reads) == ["observation", "service", "torrent"]
        assert a.merge_counters.unchanged - unchanged == 3 * n
        assert a.merge_counters.conflicts == 0
        reads.clear()
        race = True
        spool.append(side("b", n))
        assert await Drainer(spool, a, batch_size=100).drain_all() == 3 * n
        assert a.merge_counters.conflicts > 0
        await check_both_sides(settings, n)
    finally:
        spool.close()
        await a.close()
        await b.close()
