"""The real Elasticsearch node of the test suite (one per session), the 3-node cluster (started
once per session, only when a test asks for it), and helpers around them.

Test modules bind the fixtures by name (pytest finds fixtures among module attributes)::

    from tests import es_node as node_fixtures

    es_node = node_fixtures.es_node
    es_settings = node_fixtures.es_settings

Tests of several writers on one cluster bind ``es_cluster`` and ``es_cluster_settings``
the same way. The node comes from `make es-node` (Elasticsearch's own test zip, cached in
``.cache/elasticsearch``); without it the tests are skipped with that reason.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from heroes.lab.elasticsearch_node import (
    ClusterHandle,
    NodeError,
    NodeHandle,
    cached_versions,
    start_cluster,
    start_node,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "elasticsearch"

_prefix_counter = iter(range(1_000_000))


class _SharedNode:
    """One node for the whole session, however many test modules bind the fixture.

    Each module that imports ``es_node`` gets its own session-scoped fixture (pytest keys
    fixtures by where they are defined), so the node is shared here and stopped when the
    last of them is finalised, at the end of the session.
    """

    def __init__(self) -> None:
        self.node: NodeHandle | None = None
        self.data_dir: Path | None = None
        self.users = 0

    def acquire(self) -> NodeHandle:
        if self.node is None:
            if not cached_versions(CACHE):
                pytest.skip(f"no Elasticsearch test distribution in {CACHE}: run `make es-node`")
            # Under /tmp (not pytest's private tmp dir) so the unprivileged node user reaches it.
            self.data_dir = Path(tempfile.mkdtemp(prefix="heroes-es-"))
            try:
                self.node = start_node(CACHE, self.data_dir)
            except NodeError as exc:
                shutil.rmtree(self.data_dir, ignore_errors=True)
                pytest.fail(f"the Elasticsearch test node did not start: {exc}")
        self.users += 1
        return self.node

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.node is not None:
            self.node.stop()
            self.node = None
            if self.data_dir is not None:
                shutil.rmtree(self.data_dir, ignore_errors=True)


_shared = _SharedNode()


@pytest.fixture(scope="package")
def es_node() -> Iterator[NodeHandle]:
    node = _shared.acquire()
    try:
        # A test may stop and restart the node; it must be running for the next one.
        if not node.running():
            node.start()
        yield node
    finally:
        _shared.release()


@pytest.fixture
def es_settings(es_node: NodeHandle, make_settings: Callable[..., Settings]
                ) -> Callable[..., Settings]:
    """Settings for the elasticsearch backend on the test node, with a prefix of their own."""

    def build(prefix: str | None = None, **overrides: Any) -> Settings:
        es: dict[str, Any] = {
            "hosts": [es_node.url],
            "index_prefix": prefix or f"t{next(_prefix_counter)}",
            "retry_initial_backoff_s": 0.05,
            # The suite searches what it has just written.
            "write_refresh": "wait_for",
        }
        es.update(overrides.pop("elasticsearch", {}))
        overrides.setdefault("index", {})["backend"] = "elasticsearch"
        return make_settings(elasticsearch=es, **overrides)

    return build


CLUSTER_NODES = 3


class _SharedCluster:
    """The 3-node cluster, shared like :class:`_SharedNode` and stopped after its last user."""

    def __init__(self) -> None:
        self.cluster: ClusterHandle | None = None
        self.data_dir: Path | None = None
        self.users = 0

    def acquire(self) -> ClusterHandle:
        if self.cluster is None:
            if not cached_versions(CACHE):
                pytest.skip(f"no Elasticsearch test distribution in {CACHE}: run `make es-node`")
            self.data_dir = Path(tempfile.mkdtemp(prefix="heroes-es-cluster-"))
            try:
                self.cluster = start_cluster(CACHE, self.data_dir, CLUSTER_NODES)
            except NodeError as exc:
                shutil.rmtree(self.data_dir, ignore_errors=True)
                pytest.fail(f"the {CLUSTER_NODES}-node Elasticsearch cluster did not start: {exc}")
        self.users += 1
        return self.cluster

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
            if self.data_dir is not None:
                shutil.rmtree(self.data_dir, ignore_errors=True)


_shared_cluster = _SharedCluster()


@pytest.fixture(scope="package")
def es_cluster() -> Iterator[ClusterHandle]:
    cluster = _shared_cluster.acquire()
    try:
        # A test may kill a node; every node must be back for the next one.
        for node in cluster.nodes:
            if not node.running():
                node.start()
        cluster.wait_ready()
        yield cluster
    finally:
        _shared_cluster.release()


@pytest.fixture
def es_cluster_settings(es_cluster: ClusterHandle, make_settings: Callable[..., Settings]
                        ) -> Callable[..., Settings]:
    """Settings for the elasticsearch backend on every node of the cluster, replicas 1."""

    def build(prefix: str | None = None, **overrides: Any) -> Settings:
        es: dict[str, Any] = {
            "hosts": es_cluster.urls,
            "index_prefix": prefix or f"c{next(_prefix_counter)}",
            "replicas": 1,
            "retry_initial_backoff_s": 0.05,
            # The suite searches what it has just written.
            "write_refresh": "wait_for",
        }
        es.update(overrides.pop("elasticsearch", {}))
        overrides.setdefault("index", {})["backend"] = "elasticsearch"
        return make_settings(elasticsearch=es, **overrides)

    return build
