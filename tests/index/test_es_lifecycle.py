"""Elasticsearch index lifecycle: per-kind templates, ILM detection, whole-index retention,
and writes that leave refreshing to the cluster (a real node, tests/es_node.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from config import Settings
from config.sections.console import RetentionSettings
from documents import Observation, Page
from heroes.cli import main
from heroes.console.retention import purge_report
from index.backends import es_lifecycle as lifecycle
from index.backends import es_mappings as layout
from index.backends.elasticsearch import ElasticsearchBackend
from query.model import Search, Term
from tests import es_node as node_fixtures

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
# 26 days back from NOW: 2026-10-20 12:00, inside October (the boundary month).
KEEP_DAYS = 26


def page(n: int, when: datetime) -> Page:
    return Page(url=f"http://shop{n % 3}.onion/item/{n}", fetched_at=when,
                title=f"Teapot {n}", text=f"garden teapot item{n}")


def observation(ip: str, first: datetime, last: datetime) -> Observation:
    return Observation(infohash="d" * 40, ip=ip, port=6881, first_seen=first, last_seen=last)


async def opened(settings: Settings, retention: RetentionSettings | None = None
                 ) -> ElasticsearchBackend:
    backend = ElasticsearchBackend(settings.elasticsearch, retention)
    await backend.open(writer=True)
    return backend


async def index_settings(backend: ElasticsearchBackend, index: str) -> dict[str, Any]:
    found = await backend.client.indices.get_settings(index=index)
    return found[index]["settings"]["index"]


# --- pure parts ------------------------------------------------------------------------------


def test_kind_shape_falls_back_to_the_global_one(make_settings: Callable[..., Settings]) -> None:
    es = make_settings(elasticsearch={"shards": 3, "replicas": 1,
                                      "kinds": {"page": {"shards": 2, "replicas": 0}}}
                       ).elasticsearch
    assert lifecycle.shape(es, "page") == (2, 0)
    assert lifecycle.shape(es, "service") == (3, 1)


def test_template_carries_refresh_interval_and_policy(make_settings: Callable[..., Settings]
                                                      ) -> None:
    es = make_settings(elasticsearch={"refresh_interval": "30s"}).elasticsearch
    with_policy = lifecycle.template_for(es, "page", policy="heroes-page-retention")
    index = with_policy["template"]["settings"]["index"]
    assert index["refresh_interval"] == "30s"
    assert index["lifecycle"] == {"name": "heroes-page-retention"}
    plain = lifecycle.template_for(es, "page", policy=None)
    assert "lifecycle" not in plain["template"]["settings"]["index"]
    # Any change of what settings decide changes the fingerprint, so the template is replaced.
    assert plain["meta"]["heroes_fingerprint"] != with_policy["meta"]["heroes_fingerprint"]


def test_unknown_kind_table_and_bad_refresh_are_refused(
        make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(Exception, match="pages"):
        make_settings(elasticsearch={"kinds": {"pages": {"shards": 2}}})
    with pytest.raises(Exception, match="refresh_interval"):
        make_settings(elasticsearch={"refresh_interval": "soon"})
    with pytest.raises(Exception, match="never be searchable"):
        make_settings(elasticsearch={"refresh_interval": "-1", "write_refresh": "wait_for"})


def test_month_of_and_ilm_origination() -> None:
    assert layout.month_of("h", "page", "h-page-2026.12") == (
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert layout.month_of("h", "page", "h-page-all") is None
    assert layout.month_of("h", "service", "h-service-2026.12") is None
    assert lifecycle.ILM_KINDS == ("page",)  # observations are kept by last_seen, not month
    origin = lifecycle.creation_settings("h", "h-page-2026.10", ilm=True)
    assert origin["index"]["lifecycle"]["origination_date"] == int(
        datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
    assert lifecycle.creation_settings("h", "h-page-2026.10", ilm=False) == {}
    assert lifecycle.creation_settings("h", "h-observation-2026.10", ilm=True) == {}
    assert lifecycle.policy_for(30)["phases"]["delete"] == {
        "min_age": "30d", "actions": {"delete": {}}}


# --- on the node -----------------------------------------------------------------------------

live = pytest.mark.elasticsearch


@live
async def test_templates_apply_per_kind_shards_and_replicas(
        es_settings: Callable[..., Settings]) -> None:
    settings = es_settings(elasticsearch={
        "shards": 1, "replicas": 0, "refresh_interval": "30s",
        "kinds": {"page": {"shards": 2}, "observation": {"shards": 3, "replicas": 0}}})
    prefix = settings.elasticsearch.index_prefix
    backend = await opened(settings)
    try:
        when = datetime(2026, 11, 2, tzinfo=UTC)
        assert await backend.write([page(1, when), observation("127.20.0.1", when, when)]) == []
        got = await index_settings(backend, f"{prefix}-page-2026.11")
        assert (got["number_of_shards"], got["number_of_replicas"]) == ("2", "0")
        assert got["refresh_interval"] == "30s"
        got = await index_settings(backend, f"{prefix}-observation-2026.11")
        assert got["number_of_shards"] == "3"
        found = await backend.client.indices.get_index_template(name=f"{prefix}-service")
        shape = found["index_templates"][0]["index_template"]["template"]["settings"]["index"]
        assert (shape["number_of_shards"], shape["number_of_replicas"]) == ("1", "0")
    finally:
        await backend.close()
    # A changed setting replaces the template on the next writer start.
    settings2 = es_settings(prefix, elasticsearch={"kinds": {"page": {"shards": 4}}})
    backend = await opened(settings2)
    try:
        found = await backend.client.indices.get_index_template(name=f"{prefix}-page")
        shape = found["index_templates"][0]["index_template"]["template"]["settings"]["index"]
        assert shape["number_of_shards"] == "4"
    finally:
        await backend.close()


@live
async def test_without_ilm_retention_falls_back_and_says_so(
        es_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    backend = await opened(es_settings())
    try:
        if await lifecycle.has_ilm(backend.client):
            pytest.skip("this node has index lifecycle management")
    finally:
        await backend.close()
    with caplog.at_level(logging.INFO, logger="index.backends.es_lifecycle"):
        backend = await opened(es_settings(), RetentionSettings(page_days=KEEP_DAYS))
        await backend.close()
    assert "no index lifecycle management" in caplog.text
    assert "heroes index purge" in caplog.text
    strict = ElasticsearchBackend(es_settings(elasticsearch={"ilm": "on"}).elasticsearch)
    with pytest.raises(lifecycle.LifecycleUnavailable, match=r"elasticsearch\.ilm"):
        await strict.open(writer=True)
    await strict.close()


def boundary_documents() -> list[Page | Observation]:
    return [
        page(1, datetime(2026, 9, 3, tzinfo=UTC)),
        page(2, datetime(2026, 9, 28, tzinfo=UTC)),
        page(3, datetime(2026, 10, 5, tzinfo=UTC)),    # boundary month, older: deleted
        page(4, datetime(2026, 10, 19, tzinfo=UTC)),   # boundary month, older: deleted
        page(5, datetime(2026, 10, 25, tzinfo=UTC)),   # boundary month, newer: kept
        page(6, datetime(2026, 11, 10, tzinfo=UTC)),
        # First seen in September but seen again lately: its index must stay.
        observation("127.20.0.2", datetime(2026, 9, 4, tzinfo=UTC),
                    datetime(2026, 11, 12, tzinfo=UTC)),
        observation("127.20.0.3", datetime(2026, 8, 4, tzinfo=UTC),
                    datetime(2026, 8, 5, tzinfo=UTC)),
    ]


@live
async def test_retention_drops_old_months_whole_and_trims_the_boundary(
        es_settings: Callable[..., Settings]) -> None:
    settings = es_settings()
    prefix = settings.elasticsearch.index_prefix
    policy = RetentionSettings(page_days=KEEP_DAYS, observation_days=KEEP_DAYS)
    backend = await opened(settings, policy)
    try:
        assert await backend.write(boundary_documents()) == []
        dry = {d.kind: d for d in await purge_report(backend, policy, now=NOW, dry_run=True)}
        assert dry["page"].dropped == [(f"{prefix}-page-2026.09", 2)]
        assert dry["page"].documents == 2
        assert dry["observation"].dropped == [(f"{prefix}-observation-2026.08", 1)]
        assert dry["observation"].documents == 0
        assert await backend.count("page") == 6  # a dry run changes nothing

        done = {d.kind: d for d in await purge_report(backend, policy, now=NOW)}
        assert done["page"].dropped == dry["page"].dropped
        assert done["page"].documents == 2
        client = backend.client
        assert not await client.indices.exists(index=f"{prefix}-page-2026.09")
        assert not await client.indices.exists(index=f"{prefix}-observation-2026.08")
        assert await client.indices.exists(index=f"{prefix}-observation-2026.09")
        await backend.refresh()
        left = await backend.search(Search(kind="page", size=10))
        urls = sorted(hit["_source"]["url"] for hit in left["hits"]["hits"])
        assert urls == ["http://shop0.onion/item/6", "http://shop2.onion/item/5"]
        assert await backend.count("observation") == 1
        # A late write into a dropped month recreates its index from the template.
        assert await backend.write([page(7, datetime(2026, 9, 9, tzinfo=UTC))]) == []
        assert await client.indices.exists(index=f"{prefix}-page-2026.09")
    finally:
        await backend.close()


@live
async def test_purge_dry_run_names_indices_and_counts_the_boundary(
        es_settings: Callable[..., Settings], tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=120)
    settings = es_settings()
    prefix = settings.elasticsearch.index_prefix
    backend = await opened(settings)
    try:
        assert await backend.write([page(1, old), page(2, now - timedelta(days=1))]) == []
    finally:
        await backend.close()
    config = tmp_path / "es.toml"
    config.write_text(
        f'[index]\nbackend = "elasticsearch"\n[elasticsearch]\n'
        f'hosts = {json.dumps(settings.elasticsearch.hosts)}\n'
        f'index_prefix = "{prefix}"\n[retention]\npage_days = 30\n')
    args = ["--config", str(config), "--data-dir", str(settings.data_dir), "index", "purge",
            "--dry-run"]
    # In a thread: the command runs its own event loop.
    result = await asyncio.to_thread(CliRunner().invoke, main, args)
    assert result.exit_code == 0, result.output
    assert f"would drop index {prefix}-page-{old:%Y.%m} whole (1 documents)" in result.output
    assert "would delete 0 documents one by one (boundary month)" in result.output
    result = await asyncio.to_thread(CliRunner().invoke, main, [*args, "--json"])
    out = json.loads(result.stdout)
    assert out["indices"]["page"] == [{"index": f"{prefix}-page-{old:%Y.%m}", "documents": 1}]
    assert out["boundary"]["page"] == 0 and out["deleted"]["page"] == 1
    backend = await opened(settings)
    try:  # the dry runs left the old index in place
        assert await backend.client.indices.exists(index=f"{prefix}-page-{old:%Y.%m}")
    finally:
        await backend.close()


async def refreshes(backend: ElasticsearchBackend, index: str) -> int:
    stats = await backend.client.indices.stats(index=index, metric="refresh")
    # External refreshes are the ones that make writes searchable; a real-time get may
    # refresh the engine's internal reader, which searches do not use.
    return int(stats["indices"][index]["primaries"]["refresh"]["external_total"])


@live
async def test_bulk_writes_do_not_force_a_refresh(es_settings: Callable[..., Settings]) -> None:
    # No scheduled refreshes either, so any refresh counted would be the writer's.
    settings = es_settings(elasticsearch={"refresh_interval": "-1", "write_refresh": "false"})
    prefix = settings.elasticsearch.index_prefix
    backend = await opened(settings)
    try:
        when = datetime(2026, 11, 2, tzinfo=UTC)
        index = f"{prefix}-page-2026.11"
        assert await backend.write([page(1, when)]) == []
        before = await refreshes(backend, index)
        docs = [page(n, when + timedelta(minutes=n)) for n in range(2, 40)]
        assert await backend.write(docs) == []
        assert await backend.write([page(40, when), page(1, when)]) == []
        assert await refreshes(backend, index) == before
        # Read-after-write by id needs no refresh (real-time get) ...
        assert set(await backend.get("page", [docs[0].id, docs[-1].id])) == {
            docs[0].id, docs[-1].id}
        # ... a search does: the caller that needs one asks for it.
        probe = Search(kind="page", query=Term("url", docs[0].url), size=1)
        assert (await backend.search(probe))["hits"]["total"]["value"] == 0
        await backend.refresh()
        assert (await backend.search(probe))["hits"]["total"]["value"] == 1
        assert await refreshes(backend, index) > before
    finally:
        await backend.close()
