"""One lab-like index (embedded engine) shared by the exchange tests, built once per session."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.exchange.labdata import cluster, documents, ingest, more_clusters, settings_for


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("exchange-data")
    asyncio.run(ingest(settings_for(data_dir), [*documents(), cluster(), *more_clusters()]))
    return data_dir
