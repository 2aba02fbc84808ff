"""The same operator groups on a real Elasticsearch node: clusters found with their reasons,
no decoy joined, and read back by member."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.clusters import cluster_of
from config import Settings
from heroes.lab.operators import operator_world
from index.store import Store
from tests import es_node as node_fixtures
from tests.analysis.lab_index import (
    analyse,
    index,
    lab_analysis,
    live_clusters,
    world_documents,
)

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

pytestmark = pytest.mark.elasticsearch


async def test_groups_cluster_on_elasticsearch(es_settings: Callable[..., Settings],
                                               tmp_path: Path) -> None:
    settings = es_settings(analysis=lab_analysis(tmp_path, batch_size=4))
    sites = operator_world(kinds=("analytics", "pgp", "template"), decoys=3)
    await index(settings, world_documents(sites))
    counters = await analyse(settings)
    assert counters.pages == len(sites)
    found = {frozenset(m.key for m in c.members): c for c in await live_clusters(settings)}
    for kind in ("analytics", "pgp", "template"):
        hosts = frozenset(s.host for s in sites if s.group == kind)
        assert hosts in found, kind
    assert len(found) == 3
    store = Store(settings)
    try:
        for site in sites:
            cluster = await cluster_of(store, site.host)
            assert (cluster is None) == (not site.group)
    finally:
        store.close()
