"""Terms partitions of the embedded index: a hash of the whole key, as many as asked.

Each partition of the embedded index holds exactly the keys the reference split
(:func:`query.reference.partition_of`) puts there, with the same counts and metrics as one
unpartitioned pass; partitions stay even past the hundred-odd endings an IPv4 address has,
and reading every bucket of a field needs no ceiling below ``MAX_PARTITIONS``, on both
backends (Elasticsearch splits by its own hash of the whole key).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import Settings
from config.sections.index import IndexSettings
from documents import Observation
from index.backends import tantivy_aggs
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy import TantivyBackend
from query import reference
from query.model import Metric, Query, Search, Term, TermsAgg
from query.validate import MAX_AGG_SIZE
from tests import es_node as node_fixtures
from triage import buckets as bucket_module
from triage.buckets import all_buckets

T0 = datetime(2026, 11, 1, tzinfo=UTC)
METRICS = (("swarms", Metric("cardinality", "infohash")), ("level", Metric("max", "level")),
           ("first", Metric("min", "first_seen")), ("have", Metric("max", "have_fraction")))
QUERY = Term("probe_id", "probe-lab")

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings


def ip_of(i: int) -> str:
    if i % 5 == 4:  # some IPv6 peers among the IPv4 ones
        return f"fe80::{i >> 16:x}:{i & 0xffff:x}"
    return f"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def observation(n: int, peer: int, swarm: int, client: str) -> Observation:
    first = T0 + timedelta(hours=n % 97)
    return Observation(infohash=f"{swarm:040x}", ip=ip_of(peer), port=6881 + n % 7,
                       sources=["tracker"], first_seen=first, last_seen=first, level=n % 4,
                       have_fraction=(n % 10) / 10 if n % 3 else None, client=client,
                       probe_id="probe-lab")


def search(field: str, partition: int = 0, parts: int = 1, query: Query = QUERY) -> Search:
    agg = TermsAgg(field, size=MAX_AGG_SIZE, metrics=METRICS, partition=partition,
                   num_partitions=parts)
    return Search("observation", query=query, size=0, aggs={"t": agg})


async def buckets_of(backend: TantivyBackend, s: Search) -> list[dict[str, Any]]:
    return (await backend.search(s))["aggregations"]["t"]["buckets"]


async def check_partitions(backend: TantivyBackend, docs: list[Observation], field: str,
                           parts: int) -> None:
    sources = [d.source() for d in docs]
    whole = await buckets_of(backend, search(field))
    assert whole == reference.evaluate(search(field), sources)["aggregations"]["t"]["buckets"]
    seen: list[dict[str, Any]] = []
    for p in range(parts):
        got = await buckets_of(backend, search(field, p, parts))
        expected = reference.evaluate(search(field, p, parts), sources)
        assert got == expected["aggregations"]["t"]["buckets"], (field, p, parts)
        seen += got
    assert sorted(seen, key=lambda b: b["key"]) == sorted(whole, key=lambda b: b["key"])


@pytest.fixture
async def open_backend(tmp_path: Path) -> AsyncIterator[TantivyBackend]:
    backend = TantivyBackend(tmp_path / "index", IndexSettings())
    await backend.open(writer=True)
    try:
        yield backend
    finally:
        await backend.close()


async def fill(backend: Backend, docs: list[Observation]) -> None:
    assert not await backend.write(docs)
    await backend.refresh()


clients = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.integers(0, 3_000), st.integers(0, 5), clients),
                     min_size=1, max_size=60),
       parts=st.integers(1, 40))
def test_partitions_are_the_reference_split_of_one_pass(rows: list[tuple[int, int, str]],
                                                         parts: int) -> None:
    docs = [observation(n, peer, swarm, client) for n, (peer, swarm, client) in enumerate(rows)]
    docs = list({d.id: d for d in docs}.values())  # one per natural key, as the index keeps

    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="heroes-partitions-") as tmp:
            backend = TantivyBackend(Path(tmp) / "index", IndexSettings())
            await backend.open(writer=True)
            try:
                await fill(backend, docs)
                for field in ("ip", "client"):
                    await check_partitions(backend, docs, field, parts)
            finally:
                await backend.close()

    asyncio.run(run())


async def test_a_partition_larger_than_the_bucket_limit_is_read_in_chunks(
        open_backend: TantivyBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [observation(n, n % 400, n % 3, f"client {n % 250}") for n in range(900)]
    await fill(open_backend, docs)
    # Unpartitioned answers above this limit are counted from the sources; partitions never.
    monkeypatch.setattr(tantivy_aggs, "BUCKET_LIMIT", 9)
    calls: list[int] = []
    real = tantivy_aggs.Aggregator._aggregate

    def counted(self: tantivy_aggs.Aggregator, specs: dict[str, Any], fields: str,
                query: Any = None) -> Any:
        include = specs["a"]["terms"].get("include", ()) if "a" in specs else ()
        calls.append(len(include))
        out = real(self, specs, fields, query)
        if include:
            assert out is not None, "a chunk of keys exceeded the bucket limit"
        return out

    monkeypatch.setattr(tantivy_aggs.Aggregator, "_aggregate", counted)
    for field in ("ip", "client"):
        for p in range(3):
            got = await buckets_of(open_backend, search(field, p, 3))
            sources = [d.source() for d in docs]
            expected = reference.evaluate(search(field, p, 3), sources)
            assert got == expected["aggregations"]["t"]["buckets"]
    assert calls and max(calls) <= 9 and len(calls) > 6


async def test_partitions_stay_even_past_the_ends_of_ipv4_addresses(
        open_backend: TantivyBackend) -> None:
    # 127.0.x.y: their last two characters take about a hundred values, far fewer than 300.
    docs = [Observation(infohash="ab" * 20, ip=f"127.0.{i >> 8}.{i & 255}", port=6881,
                        first_seen=T0, last_seen=T0, level=1, probe_id="probe-lab")
            for i in range(9_000)]
    await fill(open_backend, docs)
    parts = 300
    sizes = [len(await buckets_of(open_backend, search("ip", p, parts))) for p in range(parts)]
    assert sum(sizes) == 9_000
    mean = 9_000 / parts
    assert min(sizes) >= mean / 2 and max(sizes) <= mean * 2, (min(sizes), max(sizes))


async def check_every_bucket(backend: Backend, monkeypatch: pytest.MonkeyPatch,
                             underestimate: bool) -> None:
    # A bucket limit of 20 scales 10,000 down: 6,000 keys need about 400 partitions, far more
    # than the endings of an address could split them into.
    monkeypatch.setattr(bucket_module, "MAX_AGG_SIZE", 20)
    monkeypatch.setattr(bucket_module, "KEYS_PER_PARTITION", 14)
    if underestimate:  # the split starts too coarse and is made finer
        async def one(*_: Any, **__: Any) -> int:
            return 1

        monkeypatch.setattr(bucket_module, "estimate_keys", one)
    docs = [observation(n, n % 6_000, n % 4, "lab client") for n in range(7_000)]
    await fill(backend, docs)
    rows = await all_buckets(backend, "observation", "ip", QUERY, METRICS, limit=10_000)
    sources = [d.source() for d in docs]
    whole = reference.evaluate(search("ip"), sources)["aggregations"]["t"]["buckets"]
    assert len(rows) == 6_000
    assert {k: rows[k] for k in sorted(rows)} == {b["key"]: b for b in
                                                  sorted(whole, key=lambda b: b["key"])}


@pytest.mark.parametrize("underestimate", [False, True])
async def test_every_bucket_is_read_past_the_old_ceiling(
        open_backend: TantivyBackend, monkeypatch: pytest.MonkeyPatch,
        underestimate: bool) -> None:
    await check_every_bucket(open_backend, monkeypatch, underestimate)


@pytest.mark.elasticsearch
@pytest.mark.asyncio(loop_scope="session")
async def test_every_bucket_is_read_on_elasticsearch(
        es_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ElasticsearchBackend(es_settings(prefix="triage-partitions").elasticsearch)
    await backend.open(writer=True)
    try:
        await check_every_bucket(backend, monkeypatch, underestimate=False)
    finally:
        await backend.close()
