"""Alerts shared through the cluster: two installations (two data directories) on one node.

The production drain role and sender of each installation, the real Elasticsearch node and
the lab SMTP sink: the same flagged hit raised on both makes one alert and one email, and a
sender SIGKILLed in the middle of a delivery gives its claim back after the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerting.cluster_state import ClusterAlerts, record_of
from alerting.db import AlertDB, alert_db_path
from alerting.rules import Firing
from alerting.sender import Sender
from alerting.state import AlertState
from config import Settings
from documents import Observation
from index.backends.es_alerts import EsClusterAlerts, cluster_alerts_for
from index.hashsets.membership import Entry
from index.store import Store
from tests import es_node as node_fixtures
from tests.alerting import installations
from tests.index import test_alerts_live as live

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings
sink = live.sink

pytestmark = pytest.mark.elasticsearch

IH = "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
TO = "unit@lab.localhost"
NOW = datetime.now(UTC)
RULE = {"name": "flagged-hit", "type": "hit", "recipients": [TO], "key": ["infohash"],
        "kinds": ["observation"]}


def _peer(ip: str, port: int = 51413) -> Observation:
    return Observation(infohash=IH, ip=ip, port=port, first_seen=NOW, last_seen=NOW, level=1,
                       sources=["tracker"])


def installation(es_settings: Callable[..., Settings], prefix: str, data: Path,
                 smtp_port: int, **alerts: Any) -> Settings:
    live.flag(data, Entry("lab-swarm", "infohash", IH, "swarm", "e-1", "2026-11-29T00:00:00Z"))
    return installations.installation(es_settings, prefix, data, smtp_port, rules=[RULE],
                                      alerts=alerts)


@contextlib.asynccontextmanager
async def running(settings: Settings, *, sender: bool = True
                  ) -> AsyncIterator[tuple[Store, Sender | None]]:
    """One installation's drain role and (optionally) its sender, on the cluster."""
    store = Store(settings)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(store.drain_role(lock_poll_s=0.1).run(stop))]
    role = None
    if sender:
        role = Sender(settings, store.append, cluster=cluster_alerts_for(settings))
        role.open()
        tasks.append(asyncio.create_task(role.run(stop)))
    try:
        yield store, role
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        if role is not None:
            role.close()
        store.close()


@contextlib.contextmanager
def alert_state(data: Path) -> Iterator[AlertState]:
    db = AlertDB(alert_db_path(data))
    try:
        yield AlertState(db)
    finally:
        db.close()


def cluster_docs(settings: Settings, index: str) -> list[dict[str, Any]]:
    store = EsClusterAlerts(settings.elasticsearch)
    try:
        name = store.claims if index == "claims" else store.outbox
        store.client.indices.refresh(index=name)
        return [h["_source"] for h in store.client.search(index=name, size=100)["hits"]["hits"]]
    finally:
        store.close()


async def test_two_installations_make_one_alert_and_one_email(
        es_settings: Callable[..., Settings], sink: live.Sink, tmp_path: Path) -> None:
    prefix = f"cl{uuid.uuid4().hex[:8]}"
    a = installation(es_settings, prefix, tmp_path / "a", sink.port)
    b = installation(es_settings, prefix, tmp_path / "b", sink.port)
    async with running(a) as (store_a, sender_a), running(b) as (store_b, sender_b):
        assert sender_a is not None and sender_b is not None
        # The same flagged hit reaches both installations.
        store_a.append([_peer("127.0.0.9")])
        store_b.append([_peer("127.0.0.9")])

        def raised_on(data: Path) -> bool:
            with alert_state(data) as state:
                return bool(state.list()) and not state.cluster_pending()

        await live.wait_until(lambda: raised_on(a.data_dir) and raised_on(b.data_dir), 60,
                              "both installations to raise the alert", sink.log)
        await live.wait_until(lambda: sink.messages(), 30, "the alert email", sink.log)
        # Another peer of the same torrent, on B only, within the realert window of the
        # alert: B joins the cluster's alert whichever machine raised it.
        store_b.append([_peer("127.0.0.10", 6881)])
        await live.wait_until(lambda: not store_b.spool.backlog(), 60, "B's spool to drain")
        with alert_state(b.data_dir) as state:
            [joined] = state.list()
            await live.wait_until(lambda: state.get(joined.id).count >= 2, 30,
                                  "B to count the second peer")
        # Both senders looked at the outbox again after the email went out.
        passes = (sender_a.counters.passes, sender_b.counters.passes)
        await live.wait_until(lambda: sender_a.counters.passes > passes[0] + 1
                              and sender_b.counters.passes > passes[1] + 1, 30,
                              "two more passes of each sender")
    [msg] = sink.messages()
    assert msg["To"] == TO and IH in live.text_of(msg).replace("=\n", "")
    [claim] = cluster_docs(a, "claims")
    assert record_of(claim).id == joined.id and claim["rule"] == "flagged-hit"
    [message] = cluster_docs(a, "outbox")
    assert message["status"] == "sent" and message["message_id"] == msg["Message-ID"]
    assert message["attempts"] == 1


async def test_sender_killed_mid_delivery_gives_its_claim_back(
        es_settings: Callable[..., Settings], sink: live.Sink, tmp_path: Path) -> None:
    prefix = f"cl{uuid.uuid4().hex[:8]}"
    silent = installations.silent_smtp_server()
    lease = {"delivery_lease_s": 3.0}
    a = installation(es_settings, prefix, tmp_path / "a", silent.getsockname()[1], **lease)
    b = installation(es_settings, prefix, tmp_path / "b", sink.port, **lease)
    config = installations.sender_config(tmp_path / "a.toml", a, smtp_timeout_s=120.0)
    async with running(a, sender=False) as (store_a, _):
        store_a.append([_peer("127.0.0.9")])
        await live.wait_until(lambda: cluster_docs(a, "outbox"), 60,
                              "the alert email in the cluster outbox")
    log = tmp_path / "sender-a.log"
    proc = live.start_sender(config, a.data_dir, log)
    try:
        await live.wait_until(
            lambda: [m["status"] for m in cluster_docs(a, "outbox")] == ["sending"], 30,
            "A's sender to claim the email", log.read_text)
        [claimed] = cluster_docs(a, "outbox")
        proc.send_signal(signal.SIGKILL)  # in the SMTP conversation that never answers
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        silent.close()
    async with running(b) as (_, sender_b):
        assert sender_b is not None
        await live.wait_until(lambda: sink.messages(), 30, "B to send the email", sink.log)
        passes = sender_b.counters.passes
        await live.wait_until(lambda: sender_b.counters.passes > passes + 1, 30,
                              "two more passes of B's sender")
    [msg] = sink.messages()
    [message] = cluster_docs(a, "outbox")
    assert message["status"] == "sent" and message["message_id"] == msg["Message-ID"]
    assert message["attempts"] == 2
    # B took it only once A's lease had run out.
    assert message["sent_at"] >= claimed["lease_until"]
    assert claimed["owner"] and claimed["owner"] != message.get("owner")


async def test_acknowledgement_is_a_cluster_document(
        es_settings: Callable[..., Settings], sink: live.Sink, tmp_path: Path) -> None:
    prefix = f"cl{uuid.uuid4().hex[:8]}"
    a = installation(es_settings, prefix, tmp_path / "a", sink.port)
    b = installation(es_settings, prefix, tmp_path / "b", sink.port)
    async with running(a, sender=False) as (store_a, _):
        store_a.append([_peer("127.0.0.9")])
        await live.wait_until(lambda: cluster_docs(a, "claims"), 60, "the alert in the cluster")
    [claim] = cluster_docs(a, "claims")
    first = record_of(claim)
    alert_id = first.id
    rules = {r.name: r for r in b.alerts.rules}
    firing = Firing(rule="flagged-hit", rule_type="hit", doc_kind="observation", doc_id="x",
                    version="1", time=NOW, key=first.key, summary="", facts=())
    cluster = cluster_alerts_for(b)
    assert cluster is not None
    try:
        with alert_state(b.data_dir) as state:
            # B, which never raised it, learns of the alert before it is acknowledged.
            shared = ClusterAlerts(cluster, state, "")
            assert await asyncio.to_thread(shared.import_near, [firing], rules) == 1
            assert state.get(alert_id).status == "new"
            assert not await asyncio.to_thread(shared.acknowledge, "0" * 40, "x", "", 1.0)
            config = installations.sender_config(tmp_path / "a.toml", a)
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "heroes.cli", "--config", str(config), "--data-dir",
                 str(a.data_dir), "alerts", "ack", alert_id, "--by", "analyst",
                 "--comment", "seen"],
                capture_output=True, text=True, cwd=live.ROOT, timeout=120,
            )
            assert done.returncode == 0, done.stderr
            [claim] = cluster_docs(a, "claims")
            record = record_of(claim)
            assert (record.status, record.acknowledged_by, record.comment) == (
                "acknowledged", "analyst", "seen")
            # The acknowledgement made on A reaches B's copy at its next import.
            assert await asyncio.to_thread(shared.import_near, [firing], rules) == 0
            mine = state.get(alert_id)
            assert (mine.status, mine.acknowledged_by, mine.comment) == (
                "acknowledged", "analyst", "seen")
    finally:
        cluster.close()


def test_alerts_stay_local_with_the_embedded_index(make_settings: Callable[..., Settings]
                                                   ) -> None:
    assert cluster_alerts_for(make_settings()) is None
    es = make_settings(index={"backend": "elasticsearch"}, alerts={"cluster": False})
    assert cluster_alerts_for(es) is None


