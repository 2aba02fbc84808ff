"""The Elasticsearch backend on a real node: layout, writes, rejections, outages, CLI.

Every test gets its own index prefix on the one session node (tests/es_node.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import Settings
from documents import Observation, Page, Service
from errors import BackendUnavailable, QueryError
from heroes.cli import main
from heroes.lab.elasticsearch_node import NodeHandle
from index.backends import es_mappings as layout
from index.backends.elasticsearch import ElasticsearchBackend, IncompatibleMapping
from index.drain import Drainer
from index.spool import Spool
from index.store import Store
from query.model import Match, MatchPhrase, Search, SortField, Term
from tests import es_node as node_fixtures

# The session node and settings on it (pytest finds fixtures by module attribute).
es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

pytestmark = pytest.mark.elasticsearch

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def pages(n: int, start: int = 0) -> list[Page]:
    return [Page(url=f"http://market{i % 7}.onion/item/{i}", fetched_at=T0 + timedelta(hours=i),
                 title=f"Lamp number {i}", text=f"garden kettle item{i} escrow.market")
            for i in range(start, start + n)]


def observation(ip: str, first: datetime, last: datetime | None = None, **extra: object
                ) -> Observation:
    return Observation(infohash="c" * 40, ip=ip, port=6881, first_seen=first,
                       last_seen=last or first, **extra)


async def opened(settings: Settings, *, writer: bool = True) -> ElasticsearchBackend:
    backend = ElasticsearchBackend(settings.elasticsearch)
    await backend.open(writer=writer)
    return backend


async def test_templates_aliases_and_monthly_indices(es_settings: Callable[..., Settings]) -> None:
    settings = es_settings()
    prefix = settings.elasticsearch.index_prefix
    backend = await opened(settings)
    try:
        client = backend.client
        for kind in ("page", "observation", "service", "torrent", "hash", "alert"):
            found = await client.indices.get_index_template(name=f"{prefix}-{kind}")
            template = found["index_templates"][0]["index_template"]
            assert template["version"] == layout.MAPPING_VERSION
        october = observation("127.10.0.1", datetime(2026, 10, 30, tzinfo=UTC))
        assert await backend.write([*pages(2), october]) == []
        aliases = await client.indices.get_alias(index=f"{prefix}-*")
        assert {name: set(body["aliases"]) for name, body in aliases.body.items()} == {
            f"{prefix}-page-2026.11": {f"{prefix}-page"},
            f"{prefix}-observation-2026.10": {f"{prefix}-observation"},
        }
        mapping = await client.indices.get_mapping(index=f"{prefix}-observation-2026.10")
        props = mapping[f"{prefix}-observation-2026.10"]["mappings"]
        assert props["dynamic"] == "false"
        assert props["properties"]["ip"]["type"] == "ip"
        assert props["properties"]["first_seen"]["type"] == "date"
    finally:
        await backend.close()


async def test_write_get_search_count_delete(es_settings: Callable[..., Settings]) -> None:
    backend = await opened(es_settings())
    try:
        docs = pages(5)
        assert await backend.write(docs) == []
        # Re-ingest is idempotent: same ids, no new documents.
        assert await backend.write(docs) == []
        assert await backend.count("page") == 5
        got = await backend.get("page", [docs[0].id, "no-such-id"])
        assert got == {docs[0].id: docs[0].source()}
        # Tokenised like the embedded backend: "escrow.market" is two tokens.
        found = await backend.search(Search("page", MatchPhrase("text", "escrow market")))
        assert found["hits"]["total"] == {"value": 5, "relation": "eq"}
        found = await backend.search(Search("page", Match("title", "LAMP 3", operator="and")))
        assert [h["_id"] for h in found["hits"]["hits"]] == [docs[3].id]
        assert await backend.delete("page", [docs[0].id, docs[1].id, "no-such-id"]) == 2
        assert await backend.count("page") == 3
    finally:
        await backend.close()


async def test_search_after_pages_through_everything_once(es_settings: Callable[..., Settings]
                                                         ) -> None:
    backend = await opened(es_settings())
    try:
        docs = pages(23)
        await backend.write(docs)
        sort = (SortField("host", "asc"), SortField("fetched_at", "desc"))
        seen: list[str] = []
        after = None
        while True:
            result = await backend.search(Search("page", size=5, sort=sort, search_after=after))
            assert result["hits"]["total"]["value"] == 23  # the cursor never shrinks the total
            hits = result["hits"]["hits"]
            if not hits:
                break
            seen.extend(h["_id"] for h in hits)
            after = tuple(hits[-1]["sort"])
            assert hits[-1]["sort"][-1] == hits[-1]["_id"]
        assert sorted(seen) == sorted(d.id for d in docs) and len(seen) == 23
    finally:
        await backend.close()


async def test_a_document_whose_month_moves_keeps_one_copy(es_settings: Callable[..., Settings]
                                                          ) -> None:
    settings = es_settings()
    prefix = settings.elasticsearch.index_prefix
    backend = await opened(settings)
    try:
        late = observation("127.10.0.2", datetime(2026, 11, 2, tzinfo=UTC))
        await backend.write([late])
        # An older sighting arrives: first_seen moves to October, so does the document.
        earlier = observation("127.10.0.2", datetime(2026, 10, 20, tzinfo=UTC),
                              datetime(2026, 11, 2, tzinfo=UTC))
        assert earlier.id == late.id
        await backend.write([earlier])
        assert await backend.count("observation") == 1
        hits = (await backend.client.search(index=f"{prefix}-observation", query={"match_all": {}}))
        assert [h["_index"] for h in hits["hits"]["hits"]] == [f"{prefix}-observation-2026.10"]
    finally:
        await backend.close()


async def test_mapping_rejection_is_returned_per_document(es_settings: Callable[..., Settings]
                                                         ) -> None:
    backend = await opened(es_settings())
    try:
        good = observation("127.10.0.3", T0)
        # Forced past validation, as a buggy producer or an older spool might.
        bad = Observation.model_construct(**{**good.model_dump(), "ip": "not-an-address"})
        rejected = await backend.write([good, bad])
        assert [(r.kind, r.doc_id) for r in rejected] == [("observation", bad.id)]
        assert "ip" in rejected[0].reason and "not-an-address" in rejected[0].reason
        assert await backend.count("observation") == 1
    finally:
        await backend.close()


async def test_drain_sets_a_rejected_document_aside_and_indexes_the_rest(
        es_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = es_settings()
    # Validation refuses such a size before any backend sees it; built around it, the
    # document stands for anything refused on the way in (the backend's own refusals are
    # the test above).
    too_big = Page(url="http://market.onion/huge", fetched_at=T0).model_copy(
        update={"size": 2**70})
    store = Store(settings)
    store.append([*pages(4), too_big])
    async with store.writer() as drainer:
        await drainer.drain_all()
        assert await drainer.backend.count("page") == 4
    rejected = store.spool.rejected()
    assert [(r["kind"], r["id"]) for r in rejected] == [("page", too_big.id)]
    assert "size" in rejected[0]["reason"]
    assert store.spool.backlog() == {}
    store.close()
    # ...and `heroes index stats` shows it.
    config = tmp_path / "es.toml"
    config.write_text(
        f'[index]\nbackend = "elasticsearch"\n[elasticsearch]\n'
        f'hosts = {json.dumps(settings.elasticsearch.hosts)}\n'
        f'index_prefix = "{settings.elasticsearch.index_prefix}"\n')
    args = ["--config", str(config), "--data-dir", str(settings.data_dir),
            "index", "stats", "--json"]
    # In a thread: the command runs its own event loop.
    result = await asyncio.to_thread(CliRunner().invoke, main, args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["backend"] == "elasticsearch"
    assert stats["documents"]["page"] == 4
    assert stats["rejected"] == 1 and "size" in stats["rejected_sample"][0]["reason"]


async def test_stopped_mid_drain_then_started_every_document_arrives_once(
        es_node: NodeHandle, es_settings: Callable[..., Settings],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="index.drain")
    settings = es_settings(elasticsearch={"max_retries": 1, "request_timeout_s": 5})
    spool = Spool(Path(settings.data_dir) / "spool.sqlite")
    docs = [*pages(300), *(observation(f"10.4.{i // 200}.{i % 200 + 1}", T0) for i in range(300))]
    spool.append(docs)
    backend = ElasticsearchBackend(settings.elasticsearch)
    await backend.open(writer=True)
    drainer = Drainer(spool, backend, batch_size=40)
    stop = asyncio.Event()
    task = asyncio.create_task(drainer.run(stop, idle_s=0.05, max_backoff_s=1.0))
    try:
        deadline = time.monotonic() + 60
        while sum(spool.backlog().values()) > 450:  # some batches are in
            assert time.monotonic() < deadline, "the drain made no progress"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(es_node.stop)
        caplog.clear()
        deadline = time.monotonic() + 30
        while not any("backend unavailable" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the drain did not notice the outage"
            await asyncio.sleep(0.05)
        left = sum(spool.backlog().values())
        assert left > 0, "the spool must keep what the backend has not taken"
        await asyncio.to_thread(es_node.start)
        deadline = time.monotonic() + 90
        while sum(spool.backlog().values()) > 0:
            assert time.monotonic() < deadline, f"spool not drained: {spool.backlog()}"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await backend.close()
    checker = await opened(settings, writer=False)
    try:
        assert await checker.count("page") == 300
        assert await checker.count("observation") == 300
        ids = await checker.get("observation", [d.id for d in docs if d.KIND == "observation"])
        assert len(ids) == 300
    finally:
        await checker.close()
        spool.close()
    assert drainer.counters.rejected == 0


async def test_unreachable_cluster_is_backend_unavailable(make_settings: Callable[..., Settings]
                                                          ) -> None:
    from heroes.lab.elasticsearch_node import free_port

    settings = make_settings(elasticsearch={"hosts": [f"http://127.0.0.1:{free_port()}"],
                                            "max_retries": 0})
    backend = ElasticsearchBackend(settings.elasticsearch)
    with pytest.raises(BackendUnavailable, match=r"elasticsearch\.hosts"):
        await backend.open(writer=False)


async def test_a_bad_query_is_a_query_error(es_settings: Callable[..., Settings]) -> None:
    backend = await opened(es_settings(), writer=False)
    try:
        with pytest.raises(QueryError, match="no_such_field"):
            await backend.search(Search("page", Term("no_such_field", "x")))
    finally:
        await backend.close()


async def test_mapping_version_upgrade_and_incompatible_index(es_settings: Callable[..., Settings]
                                                             ) -> None:
    settings = es_settings()
    prefix = settings.elasticsearch.index_prefix
    backend = await opened(settings)
    try:
        await backend.write([Service(host="abc.onion", first_seen=T0, last_seen=T0)])
        client = backend.client
        # Pretend the template and index were made by an older release.
        await client.indices.put_mapping(index=f"{prefix}-service-all",
                                         meta={"heroes_mapping_version": 0})
        spec = layout.template_for(prefix, "service", shards=1, replicas=0)
        await client.indices.put_index_template(**{**spec, "version": 0})
    finally:
        await backend.close()
    backend = await opened(settings)
    try:
        found = await backend.client.indices.get_index_template(name=f"{prefix}-service")
        assert found["index_templates"][0]["index_template"]["version"] == layout.MAPPING_VERSION
        mapping = await backend.client.indices.get_mapping(index=f"{prefix}-service-all")
        meta = mapping[f"{prefix}-service-all"]["mappings"]["_meta"]
        assert meta["heroes_mapping_version"] == layout.MAPPING_VERSION
        assert await backend.count("service") == 1
        # An index whose field has another type cannot be upgraded in place: say which.
        await backend.client.indices.create(
            index=f"{prefix}-hash-all",
            mappings={"_meta": {"heroes_mapping_version": 0},
                      "properties": {"value": {"type": "long"}}})
    finally:
        await backend.close()
    backend = ElasticsearchBackend(settings.elasticsearch)
    with pytest.raises(IncompatibleMapping, match=f"{prefix}-hash-all"):
        await backend.open(writer=True)
    await backend.close()


async def _held_back_index(backend: ElasticsearchBackend, prefix: str) -> str:
    """The service index created with an allocation filter no node matches: its primary
    stays unassigned until the filter is lifted."""
    index = layout.index_name(prefix, "service", None)
    await backend.client.indices.create(
        index=index, settings={"index.routing.allocation.require._name": "no-such-node"},
        wait_for_active_shards="0")
    return index


async def test_a_read_waits_for_a_primary_that_starts_late(es_settings: Callable[..., Settings]
                                                          ) -> None:
    settings = es_settings()
    backend = await opened(settings)
    try:
        index = await _held_back_index(backend, settings.elasticsearch.index_prefix)
        reading = asyncio.create_task(backend.get("service", ["svc-1"]))
        await backend.client.indices.put_settings(
            index=index, settings={"index.routing.allocation.require._name": None})
        assert await asyncio.wait_for(reading, 30) == {}
    finally:
        await backend.close()


async def test_a_primary_that_never_starts_is_backend_unavailable_naming_the_index(
        es_settings: Callable[..., Settings]) -> None:
    settings = es_settings(elasticsearch={"request_timeout_s": 2})
    backend = await opened(settings)
    try:
        index = await _held_back_index(backend, settings.elasticsearch.index_prefix)
        with pytest.raises(BackendUnavailable, match=index):
            await backend.get("service", ["svc-1"])
    finally:
        await backend.close()
