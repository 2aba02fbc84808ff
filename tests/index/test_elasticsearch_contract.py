"""The backend contract on a real Elasticsearch node: both backends agree on hits and counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from config import Settings
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from tests import es_node as node_fixtures
from tests.index.backend_contract import BackendContract

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

pytestmark = [pytest.mark.elasticsearch, pytest.mark.asyncio(loop_scope="session")]


async def _empty(backend: ElasticsearchBackend) -> None:
    """Remove every document under the backend's prefix, keeping templates and indices.

    Cheaper than new indices per test; the test distribution has no _delete_by_query.
    """
    client = backend.client
    pattern = f"{backend.prefix}-*"
    while True:
        found = await client.search(index=pattern, size=5000, source=False,
                                    ignore_unavailable=True, allow_no_indices=True)
        hits = found["hits"]["hits"]
        if not hits:
            return
        operations = [{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in hits]
        await client.bulk(operations=operations, refresh=True)


class TestElasticsearchContract(BackendContract):
    @pytest.fixture
    async def backend(self, es_settings: Callable[..., Settings]) -> AsyncIterator[Backend]:
        backend = ElasticsearchBackend(es_settings(prefix="contract").elasticsearch)
        await backend.open(writer=True)
        try:
            await _empty(backend)
            yield backend
        finally:
            await backend.close()
