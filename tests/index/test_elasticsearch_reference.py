"""Property: Elasticsearch and the reference evaluator give the same answers to random searches.

The generated corpora and queries of the embedded backend's property test, fewer examples
(each one rewrites the corpus on the real node).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from config.sections.index import ElasticsearchSettings
from documents import Document, parse_document
from heroes.lab.elasticsearch_node import NodeHandle
from index.backends.elasticsearch import ElasticsearchBackend
from tests import es_node as node_fixtures
from tests.index import test_reference_agreement as generated
from tests.index.test_elasticsearch_contract import _empty

es_node = node_fixtures.es_node

pytestmark = pytest.mark.elasticsearch

# No shrinking: every step would rewrite the corpus on the node; the failing example is shown.
SETTINGS = settings(max_examples=20, deadline=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


async def _agree(node: NodeHandle, kind: str, bodies: list[dict[str, Any]], cases: list[Any]
                 ) -> None:
    docs: list[Document] = [parse_document(b) for b in bodies]
    unique = list({d.id: d for d in docs}.values())
    sources = [d.source() for d in unique]
    ids = [d.id for d in unique]
    backend = ElasticsearchBackend(ElasticsearchSettings(hosts=[node.url],
                                                         index_prefix=f"agree-{kind}",
                                                         write_refresh="wait_for"))
    await backend.open(writer=True)
    try:
        await _empty(backend)
        assert await backend.write(unique) == []
        for query, sort, page_size, agg in cases:
            await generated._check(backend, kind, query, sort, page_size, agg,  # type: ignore[arg-type]
                                   sources, ids)
    finally:
        await backend.close()


@SETTINGS
@given(bodies=generated.pages, cases=generated.checks(
    "page", generated.PAGE_LEAVES, ["fetched_at", "status", "size", "host", "lang", "entities.btc"],
    ["host", "lang", "entities.btc", "status", "media.flagged"], ["fetched_at"]))
def test_pages_agree(es_node: NodeHandle, bodies: list[dict[str, Any]], cases: list[Any]) -> None:
    asyncio.run(_agree(es_node, "page", bodies, cases))


@SETTINGS
@given(bodies=generated.observations, cases=generated.checks(
    "observation", generated.OBSERVATION_LEAVES,
    ["have_fraction", "level", "last_seen", "port", "client"],
    ["ip", "sources", "level", "client"], ["first_seen", "last_seen"]))
def test_observations_agree(es_node: NodeHandle, bodies: list[dict[str, Any]], cases: list[Any]
                            ) -> None:
    asyncio.run(_agree(es_node, "observation", bodies, cases))
