"""The console shows identifiers in their display form and finds them by any spelling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from documents import Page
from heroes.console.users import UserStore
from tests.console.conftest import (
    PASSWORDS,
    Client,
    ConsoleThread,
    console_settings,
    ingest,
    make_store,
)

EIP55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
PAGE = Page(
    url="http://marketabc.onion/wallets", fetched_at="2026-11-29T12:00:00Z",
    title="Wallets", entities={"eth": [EIP55.lower()]},
)


@pytest.fixture(scope="module")
def analyst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    data_dir: Path = tmp_path_factory.mktemp("console-identifiers")
    settings = console_settings(data_dir)
    store = make_store(settings)
    asyncio.run(ingest(store, [PAGE]))
    users = UserStore.for_data_dir(data_dir, settings.console)
    users.add("alice", "analyst", PASSWORDS["alice"])
    users.close()
    server = ConsoleThread(settings, store).start()
    try:
        yield Client(server.url).login("alice")
    finally:
        server.stop()
        store.close()


@pytest.mark.parametrize("spelling", [EIP55, EIP55.lower(), "0x" + EIP55[2:].upper()])
def test_entity_view_finds_any_spelling_and_shows_eip55(analyst: Client, spelling: str) -> None:
    found = analyst.get(f"/api/entity/eth/{spelling}").json()
    assert found["page_total"] == 1 and found["value"] == EIP55.lower()
    view = analyst.get(f"/entity/eth/{spelling}")
    assert view.status == 200 and EIP55 in view.text


def test_page_view_lists_the_address_in_eip55(analyst: Client) -> None:
    view = analyst.get(f"/page/{PAGE.id}")
    assert view.status == 200 and f">{EIP55}</a>" in view.text
