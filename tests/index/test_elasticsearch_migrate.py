"""``heroes index migrate --to elasticsearch`` copies an embedded index into a real node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import Settings
from documents import KINDS, parse_document
from heroes.cli import main
from heroes.sample import sample_documents
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy import TantivyBackend
from index.store import Store
from query.model import Match, Search, SortField
from tests import es_node as node_fixtures

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

pytestmark = pytest.mark.elasticsearch


def _config(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "heroes.toml"
    path.write_text(f'[elasticsearch]\nhosts = {json.dumps(settings.elasticsearch.hosts)}\n'
                    f'index_prefix = "{settings.elasticsearch.index_prefix}"\n')
    return path


async def test_migrate_copies_every_document_once(es_settings: Callable[..., Settings],
                                                  tmp_path: Path) -> None:
    es = es_settings()
    embedded = es.model_copy(update={"index": es.index.model_copy(update={"backend": "tantivy"})})
    store = Store(embedded)
    store.append(parse_document(d) for d in sample_documents(n_pages=120, seed=5))
    async with store.writer() as drainer:
        await drainer.drain_all()
    store.close()
    args = ["--config", str(_config(tmp_path, es)), "--data-dir", str(es.data_dir),
            "index", "migrate", "--to", "elasticsearch", "--batch-size", "50", "--json"]
    runner = CliRunner()
    for _ in range(2):  # a second run overwrites, never duplicates
        result = await asyncio.to_thread(runner.invoke, main, args)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["problems"] == []
    source = TantivyBackend(Path(es.data_dir) / "index", embedded.index)
    target = ElasticsearchBackend(es.elasticsearch)
    await source.open(writer=False)
    await target.open(writer=False)
    try:
        for kind in KINDS:
            assert await target.count(kind) == await source.count(kind), kind
            assert report["kinds"][kind]["in_target"] == await source.count(kind)
        assert await target.count("page") == 120
        search = Search("page", Match("text", "escrow kettle"), size=500,
                        sort=(SortField("fetched_at", "desc"),))
        want = await source.search(search)
        got = await target.search(search)
        assert got["hits"]["total"] == want["hits"]["total"]
        assert [h["_id"] for h in got["hits"]["hits"]] == [h["_id"] for h in want["hits"]["hits"]]
        assert [h["_source"] for h in got["hits"]["hits"]] == [
            h["_source"] for h in want["hits"]["hits"]]
    finally:
        await source.close()
        await target.close()


async def test_migrate_refuses_while_a_drain_holds_the_writer(
        es_settings: Callable[..., Settings], tmp_path: Path) -> None:
    es = es_settings()
    lock = Store(es).embedded_writer_lock()
    assert lock.try_acquire()
    try:
        args = ["--config", str(_config(tmp_path, es)), "--data-dir", str(es.data_dir),
                "index", "migrate", "--to", "elasticsearch"]
        result = await asyncio.to_thread(CliRunner().invoke, main, args)
    finally:
        lock.release()
    assert result.exit_code == 2
    assert "writer lock" in result.output
