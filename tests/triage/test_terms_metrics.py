"""Terms buckets with metrics and partitions: both backends agree with the reference evaluator.

Partitions are the backend's own split, so the check is that partitions are disjoint and
together give every bucket of the unpartitioned answer, metrics included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from errors import QueryError
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy import TantivyBackend
from query import reference
from query.model import Metric, Search, Term, TermsAgg
from query.validate import validate_search
from tests import es_node as node_fixtures
from tests.triage import peer_data as pd

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

METRICS = (("swarms", Metric("cardinality", "infohash")), ("level", Metric("max", "level")),
           ("first", Metric("min", "first_seen")), ("last", Metric("max", "last_seen")),
           ("have", Metric("max", "have_fraction")), ("ports", Metric("sum", "port")))


def _search(partition: int = 0, parts: int = 1) -> Search:
    agg = TermsAgg("ip", size=100, metrics=METRICS, partition=partition, num_partitions=parts)
    return Search("observation", query=Term("probe_id", "probe-lab"), size=0, aggs={"p": agg})


async def _check(backend: Backend) -> None:
    docs = pd.observations()
    await backend.write(docs)
    await backend.refresh()
    sources = [d.source() for d in docs]
    whole = reference.evaluate(_search(), sources)["aggregations"]["p"]["buckets"]
    got = (await backend.search(_search()))["aggregations"]["p"]["buckets"]
    assert got == whole
    top = next(b for b in got if b["key"] == pd.TOP)
    assert (top["swarms"], top["level"], top["have"], top["ports"]) == (3, 3, 1.0, 6881 * 2 + 51413)
    l0 = next(b for b in got if b["key"] == pd.L0_ONLY)
    assert l0["have"] is None
    for parts in (3, 7):
        seen: list[dict[str, Any]] = []
        for p in range(parts):
            seen += (await backend.search(_search(p, parts)))["aggregations"]["p"]["buckets"]
        assert sorted(seen, key=lambda b: b["key"]) == sorted(whole, key=lambda b: b["key"])


async def test_tantivy_agrees(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    backend = TantivyBackend(tmp_path / "index", make_settings().index)
    await backend.open(writer=True)
    try:
        await _check(backend)
    finally:
        await backend.close()


@pytest.fixture
async def es_backend(es_settings: Callable[..., Settings]) -> AsyncIterator[Backend]:
    backend = ElasticsearchBackend(es_settings(prefix="triage-metrics").elasticsearch)
    await backend.open(writer=True)
    try:
        yield backend
    finally:
        await backend.close()


@pytest.mark.elasticsearch
@pytest.mark.asyncio(loop_scope="session")
async def test_elasticsearch_agrees(es_backend: Backend) -> None:
    await _check(es_backend)


def test_reference_partitions_cover_every_key() -> None:
    sources = [d.source() for d in pd.observations()]
    whole = reference.evaluate(_search(), sources)["aggregations"]["p"]["buckets"]
    parts = [reference.evaluate(_search(p, 4), sources)["aggregations"]["p"]["buckets"]
             for p in range(4)]
    keys = [b["key"] for part in parts for b in part]
    assert sorted(keys) == sorted(b["key"] for b in whole) and len(set(keys)) == len(keys)


@pytest.mark.parametrize(("agg", "words"), [
    (TermsAgg("ip", metrics=(("x", Metric("max", "client")),)), "max metric 'x' on 'client'"),
    (TermsAgg("ip", metrics=(("key", Metric("max", "level")),)), "reserved"),
    (TermsAgg("ip", metrics=(("x", Metric("avg", "level")),)), "unknown op 'avg'"),  # type: ignore[arg-type]
    (TermsAgg("ip", partition=3, num_partitions=3), "partition must be 0..2"),
    (TermsAgg("ip", num_partitions=0), "num_partitions must be"),
    (TermsAgg("ip", metrics=(("x", Metric("cardinality", "port", precision=0)),)),
     "precision must be 1..40000"),
])
def test_bad_metrics_and_partitions_are_refused(agg: TermsAgg, words: str) -> None:
    with pytest.raises(QueryError, match=words):
        validate_search(Search("observation", aggs={"a": agg}))
