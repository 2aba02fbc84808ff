"""The same ranking, explanation and export on a real Elasticsearch node as on tantivy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from config import Settings
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from tests import es_node as node_fixtures
from tests.triage import peer_data as pd
from tests.triage.conftest import load
from tests.triage.test_ranking import EXPECTED, documented_score
from triage.ranking import Scope
from triage.service import Triage

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

pytestmark = [pytest.mark.elasticsearch, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
async def es_triage(es_settings: Callable[..., Settings], make_settings: Callable[..., Settings]
                    ) -> AsyncIterator[Triage]:
    settings = make_settings(triage={"severity": pd.SEVERITY})
    backend: Backend = ElasticsearchBackend(es_settings(prefix="triage").elasticsearch)
    await backend.open(writer=True)
    try:
        await load(backend, settings)
        yield Triage(backend, settings.triage, settings.enrichment, Path(settings.data_dir))
    finally:
        await backend.close()


async def test_ranking_on_elasticsearch(es_triage: Triage) -> None:
    peers = await es_triage.ranking(Scope(), pd.NOW)
    assert [p.ip for p in peers] == list(EXPECTED)
    for p in peers:
        assert p.score.total == pytest.approx(documented_score(*EXPECTED[p.ip]), abs=1e-3)
    moved = next(p for p in peers if p.ip == pd.MOVED_FROM)
    assert [h.other_ip for h in moved.hints] == [pd.MOVED_TO]
    grouped = await es_triage.ranking(Scope(), pd.NOW, prefix64=True)
    assert next(p for p in grouped if p.ip == pd.NET64).members == sorted([pd.V6_A, pd.V6_B])
    table, _ = await es_triage.export_table(pd.TOP)
    assert len(table) == 6 and all(r["record_hash"] for r in table)
