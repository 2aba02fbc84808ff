"""The peer-ranking benchmark's bulk fill stores what the ingest path stores.

The same synthetic observations go once through the production path (spool, drain with the
installation's stages and the hash list in its store, ``Backend.write``) and once through
:mod:`bench.common.peers_fill`'s bulk loaders; every stored observation and the ranking
over them must be the same, on the embedded index and on a real Elasticsearch node.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.common.peers_fill import (
    T0,
    ElasticsearchBulk,
    Sizes,
    TantivyBulk,
    entries,
    fill,
    hashes,
    observations,
)
from config import Settings
from config.sections.index import IndexSettings
from config.sections.triage import TriageSettings
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy import TantivyBackend
from index.hashsets.membership import MembershipStore, membership_path
from index.store import Store
from tests import es_node as node_fixtures
from triage.ranking import Scope, rank
from triage.swarms import SwarmCatalog

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

SIZES = Sizes(observations=2_400, peers=240, swarms=12)
NOW = T0 + timedelta(days=31)


async def ingest(settings: Settings) -> None:
    """The observations through the spool and the drain, as the probe's would go."""
    members = MembershipStore(membership_path(Path(settings.data_dir)))
    members.upsert(entries(SIZES.swarms))
    members.close()
    store = Store(settings)
    store.append([*hashes(SIZES.swarms), *observations(SIZES)])
    async with store.writer(with_stages=True) as drainer:
        await drainer.drain_all()
    store.close()


async def contents(backend: Backend) -> tuple[dict[str, dict[str, Any]], list[tuple[Any, ...]]]:
    """Every stored observation by id, and the ranking over them."""
    stored = await backend.get("observation", [o.id for o in observations(SIZES)])
    settings = TriageSettings(severity={"a": 3, "b": 2}, max_peers=10 * SIZES.peers)
    catalog = await SwarmCatalog.load(backend, settings)
    ranked = await rank(backend, catalog, settings, Scope(), NOW)
    return stored, [(p.ip, p.figures, p.score.total, p.hints) for p in ranked]


async def production(settings: Settings) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    await ingest(settings)
    store = Store(settings)
    try:
        async with store.reader() as backend:
            return await contents(backend)
    finally:
        store.close()


def check_same(got: tuple[dict[str, dict[str, Any]], list[Any]],
               expected: tuple[dict[str, dict[str, Any]], list[Any]]) -> None:
    stored, ranked = got
    assert len(stored) == SIZES.observations
    flagged = [s for s in stored.values() if s.get("flagged")]
    # The drain's matching stage marked the flagged swarms (4 of every 5 swarms here).
    assert 0.6 * SIZES.observations < len(flagged) < 0.95 * SIZES.observations
    assert all(m["list"] == "bench-list" for s in flagged for m in s["matches"])
    assert stored == expected[0]
    assert len(ranked) == SIZES.peers and ranked == expected[1]


def test_observations_have_unique_keys_and_every_peer() -> None:
    docs = list(observations(SIZES))
    assert len({d.id for d in docs}) == SIZES.observations
    assert len({d.ip for d in docs}) == SIZES.peers
    # Each peer's observations are in different swarms.
    assert len({(d.ip, d.infohash) for d in docs}) == SIZES.observations


def test_sizes_that_cannot_hold_unique_keys_are_refused() -> None:
    problem = Sizes(observations=1_000, peers=10, swarms=8).check()
    assert problem is not None and "do not fit 10 peers in 10 swarms" in problem
    assert Sizes(observations=100, peers=10, swarms=8).check() is None
    assert "--peers" in (Sizes(observations=5, peers=6, swarms=8).check() or "")


async def test_tantivy_bulk_fill_stores_what_ingest_stores(
        tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    expected = await production(make_settings())
    path = tmp_path / "bulk"
    times = await fill(TantivyBulk(path, heap_mb=64, threads=1), SIZES, tmp_path)
    assert times.documents == SIZES.observations
    backend = TantivyBackend(path, IndexSettings())
    await backend.open(writer=True)
    try:
        await backend.write(hashes(SIZES.swarms))
        await backend.refresh()
        check_same(await contents(backend), expected)
    finally:
        await backend.close()


@pytest.mark.elasticsearch
@pytest.mark.asyncio(loop_scope="session")
async def test_elasticsearch_bulk_fill_stores_what_ingest_stores(
        tmp_path: Path, es_settings: Callable[..., Settings]) -> None:
    expected = await production(es_settings(prefix="peersfill-ingest"))
    backend = ElasticsearchBackend(es_settings(prefix="peersfill-bulk").elasticsearch)
    await backend.open(writer=True)
    try:
        await backend.write(hashes(SIZES.swarms))
        # Small batches and requests: the first batch through Backend.write, the others in
        # bulk requests several in flight, as at full size.
        times = await fill(ElasticsearchBulk(backend, chunk=300, in_flight=3), SIZES, tmp_path,
                           batch_size=600)
        assert times.documents == SIZES.observations
        check_same(await contents(backend), expected)
        settings = await backend.client.indices.get_settings(index="peersfill-bulk-observation-*")
        for index in settings.body.values():
            assert "refresh_interval" not in index["settings"]["index"]  # put back
            assert index["settings"]["index"]["translog"]["durability"] == "request"
    finally:
        await backend.close()
