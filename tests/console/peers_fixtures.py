"""A console over the synthetic peers of tests/triage/peer_data.py (one per test module).

Test modules bind the fixtures by name, as with ``tests.es_node``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from config.sections.triage import TriageSettings
from tests.console.conftest import (
    Client,
    ConsoleThread,
    console_settings,
    ingest,
    make_store,
    serve,
)
from tests.triage import peer_data


@pytest.fixture(scope="module")
def peers_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleThread]:
    data_dir = tmp_path_factory.mktemp("peers-console")
    settings = console_settings(data_dir)
    settings = settings.model_copy(
        update={"triage": TriageSettings(severity=peer_data.SEVERITY)})
    store = make_store(settings)
    observations = peer_data.with_evidence(data_dir, peer_data.observations(),
                                           skip={peer_data.MID})
    asyncio.run(ingest(store, [*peer_data.hashes(), *peer_data.torrents(), *observations]))
    yield from serve(settings, store)


@pytest.fixture
def peers_analyst(peers_console: ConsoleThread) -> Client:
    return Client(peers_console.url).login("alice")


@pytest.fixture
def peers_admin(peers_console: ConsoleThread) -> Client:
    return Client(peers_console.url).login("root")
