"""Identifier search on a real Elasticsearch node (the node shared by tests/es_node.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from config import Settings
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from tests import es_node as node_fixtures
from tests.identifiers.search_contract import IdentifierSearchContract
from tests.index.test_elasticsearch_contract import _empty

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

pytestmark = [pytest.mark.elasticsearch, pytest.mark.asyncio(loop_scope="session")]


class TestElasticsearchIdentifierSearch(IdentifierSearchContract):
    @pytest.fixture
    async def backend(self, es_settings: Callable[..., Settings]) -> AsyncIterator[Backend]:
        backend = ElasticsearchBackend(es_settings(prefix="identifiers").elasticsearch)
        await backend.open(writer=True)
        try:
            await _empty(backend)
            yield backend
        finally:
            await backend.close()
