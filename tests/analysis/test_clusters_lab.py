"""Operator groups of the lab through the real extraction into the embedded index: the
analyse pass finds each group with its reasons and joins no decoy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.clusters import cluster_of
from analysis.values import strength
from config import Settings
from heroes.lab.operators import GROUP_KINDS, operator_world
from index.store import Store
from tests.analysis.lab_index import (
    analyse,
    index,
    lab_analysis,
    live_clusters,
    world_documents,
)

# What each group must be linked by (the values its sites share).
REASONS = {
    "analytics": {"analytics"},
    "favicon": {"favicon"},
    "pgp": {"pgp", "pgp_keyid"},
    "template": {"text_near"},
    "contact": {"email", "phone"},
    "image": {"pdq_near"},
}


@pytest.fixture
def lab_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    return make_settings(analysis=lab_analysis(tmp_path, batch_size=7))


async def test_each_group_is_one_cluster_with_its_reasons_and_no_decoy(
        lab_settings: Settings) -> None:
    sites = operator_world()
    await index(lab_settings, world_documents(sites))
    counters = await analyse(lab_settings)
    assert counters.pages == len(sites)
    found = await live_clusters(lab_settings)
    by_members = {frozenset(m.key for m in c.members): c for c in found}
    expected = {kind: frozenset(s.host for s in sites if s.group == kind) for kind in GROUP_KINDS}
    assert set(by_members) == set(expected.values())
    for kind, hosts in expected.items():
        cluster = by_members[hosts]
        assert cluster.size == len(hosts)
        # The values the group shares link it; weak hints (a page skeleton) only add to it.
        assert {e.type for e in cluster.edges if e.weight >= 1} == REASONS[kind], kind
        assert all(strength(e.type) == "weak" for e in cluster.edges if e.weight < 1)
        for edge in cluster.edges:
            assert edge.a in hosts and edge.b in hosts
            assert edge.a_record and edge.b_record
            assert edge.a_first_seen <= edge.a_last_seen
    decoys = [s.host for s in sites if not s.group]
    store = Store(lab_settings)
    try:
        for host in decoys:
            assert await cluster_of(store, host) is None
    finally:
        store.close()


async def test_without_the_suppression_list_the_decoys_are_joined(
        make_settings: Callable[..., Settings]) -> None:
    # The decoys share a tracker id and the stock favicon: only the list keeps them apart.
    settings = make_settings(analysis={"batch_size": 7, "common_min_services": 100_000})
    sites = operator_world(kinds=("pgp",), decoys=3)
    await index(settings, world_documents(sites))
    await analyse(settings)
    found = await live_clusters(settings)
    decoys = frozenset(s.host for s in sites if not s.group)
    decoy_cluster = next(c for c in found if {m.key for m in c.members} == decoys)
    assert {e.type for e in decoy_cluster.edges if e.weight >= 1} == {"analytics", "favicon"}


async def test_a_second_pass_over_the_same_index_changes_nothing(
        lab_settings: Settings) -> None:
    sites = operator_world(kinds=("analytics", "pgp"), decoys=2)
    await index(lab_settings, world_documents(sites))
    await analyse(lab_settings)
    first = await live_clusters(lab_settings)
    again = await analyse(lab_settings)
    assert again.pages == 0 and again.clusters_written == 0
    assert [c.source() for c in await live_clusters(lab_settings)] == [
        c.source() for c in first]
