"""Identifier search on the embedded tantivy backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.sections.index import IndexSettings
from index.backends.base import Backend
from index.backends.tantivy import TantivyBackend
from tests.identifiers.search_contract import IdentifierSearchContract

SETTINGS = IndexSettings(writer_heap_mb=32, reader_reload_s=0.2)


class TestTantivyIdentifierSearch(IdentifierSearchContract):
    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[Backend]:
        backend = TantivyBackend(tmp_path / "index", SETTINGS)
        await backend.open(writer=True)
        try:
            yield backend
        finally:
            await backend.close()
