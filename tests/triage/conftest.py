"""Fixtures of the triage tests: the synthetic peers in a real embedded (tantivy) index."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from index.backends.tantivy import TantivyBackend
from tests.triage import peer_data
from triage.service import Triage


@pytest.fixture
def triage_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(triage={"severity": peer_data.SEVERITY})


async def load(backend: Any, settings: Settings, *, skip_evidence: set[str] = frozenset()
               ) -> None:
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    docs = peer_data.with_evidence(data_dir, peer_data.observations(), skip=skip_evidence)
    rejected = await backend.write([*peer_data.hashes(), *peer_data.torrents(), *docs])
    assert not rejected
    await backend.refresh()


@pytest.fixture
async def backend(triage_settings: Settings, tmp_path: Path) -> AsyncIterator[TantivyBackend]:
    backend = TantivyBackend(tmp_path / "index", triage_settings.index)
    await backend.open(writer=True)
    try:
        await load(backend, triage_settings, skip_evidence={peer_data.MID})
        yield backend
    finally:
        await backend.close()


@pytest.fixture
def triage(backend: TantivyBackend, triage_settings: Settings) -> Triage:
    return Triage(backend, triage_settings.triage, triage_settings.enrichment,
                  Path(triage_settings.data_dir))
