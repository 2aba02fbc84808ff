"""The infohash view counts peers, not records: two probes seeing one peer count it once."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from documents import Observation
from heroes.console.users import UserStore
from heroes.console.views import peer_counts
from tests.console.conftest import (
    PASSWORDS,
    Client,
    ConsoleThread,
    console_settings,
    ingest,
    make_store,
)

SWARM = hashlib.sha1(b"two probes swarm").hexdigest()
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def observations() -> list[Observation]:
    """Three peers: A seen by both probes (L1 by one, L2 by the other), B by both, C by one."""
    def obs(ip: str, probe: str, level: int, client: str, hours: int) -> Observation:
        seen = T0 + timedelta(hours=hours)
        return Observation(infohash=SWARM, ip=ip, port=6881, sources=["dht"], client=client,
                           first_seen=seen, last_seen=seen + timedelta(minutes=5),
                           probe_id=probe, level=level)

    return [obs("127.30.0.1", "probe-a", 1, "qBittorrent 4.6", 0),
            obs("127.30.0.1", "probe-b", 2, "qBittorrent 4.6", 1),
            obs("127.30.0.2", "probe-a", 2, "Deluge 2.1", 0),
            obs("127.30.0.2", "probe-b", 2, "Deluge 2.1", 0),
            obs("127.30.0.3", "probe-b", 0, "", 30)]


@pytest.fixture(scope="module")
def two_probe_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleThread]:
    data_dir = tmp_path_factory.mktemp("two-probe-console")
    settings = console_settings(data_dir)
    store = make_store(settings)
    asyncio.run(ingest(store, observations()))
    users = UserStore.for_data_dir(data_dir, settings.console)
    users.add("alice", "analyst", PASSWORDS["alice"])
    users.close()
    server = ConsoleThread(settings, store).start()
    yield server
    server.stop()
    store.close()


def test_clients_levels_and_new_peers_count_each_peer_once(
        two_probe_console: ConsoleThread) -> None:
    analyst = Client(two_probe_console.url).login("alice")
    data = analyst.get(f"/api/infohash/{SWARM}").json()
    assert data["observation_total"] == 5 and data["peer_total"] == 3
    assert data["peers_complete"]
    assert len(data["observations"]) == 3
    clients = {b["key"]: b["doc_count"] for b in data["clients"]}
    assert clients == {"qBittorrent 4.6": 1, "Deluge 2.1": 1, "": 1}
    # A counts once, at the higher of its two levels.
    levels = {int(b["key"]): b["doc_count"] for b in data["levels"]}
    assert levels == {2: 2, 0: 1}
    assert sum(b["doc_count"] for b in data["new_peers"]) == 3
    page = analyst.get(f"/infohash/{SWARM}").text
    assert "Peers (3 of 3, from 5 records" in page
    assert '<li>L2 <span class="count">2</span></li>' in page


def test_peer_counts_buckets_first_sightings_by_interval() -> None:
    rows = [{"client": "x", "level": 1, "first_seen": "2026-03-02T08:10:00+00:00"},
            {"client": "x", "level": 1, "first_seen": "2026-03-02T08:50:00+00:00"},
            {"client": "y", "level": 3, "first_seen": "2026-03-02T10:00:00+00:00"},
            {"client": "y", "level": 0}]
    counts = peer_counts(rows, "1h")
    hour = int(datetime(2026, 3, 2, 8, tzinfo=UTC).timestamp() * 1000)
    assert counts["new_peers"] == [{"key": hour, "doc_count": 2},
                                   {"key": hour + 2 * 3_600_000, "doc_count": 1}]
    assert counts["clients"] == [{"key": "x", "doc_count": 2}, {"key": "y", "doc_count": 2}]
    assert counts["levels"][0] == {"key": 1, "doc_count": 2}
