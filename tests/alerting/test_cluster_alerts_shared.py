"""Digests, quarantine alerts and webhooks shared by two installations on the 3-node cluster.

Two installations (two data directories, each its own drain role and sender) on the shared
3-node cluster, the lab SMTP sink and a lab webhook receiver that checks signatures: the
same flagged pages and peers drained on both make every alert once, every digest email once
(each alert in exactly one digest), one quarantine alert with one email for the value both
quarantined, and one signed POST per alert; a sender SIGKILLed in the middle of a delivery
loses and doubles nothing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerting.cluster_state import record_of
from config import Settings
from documents import Document, Observation, Page
from index.backends.es_alerts import EsClusterAlerts
from index.hashsets.membership import Entry
from index.matching_alerts import RULE_NAME
from tests import es_node as node_fixtures
from tests.alerting import installations
from tests.alerting.lab_webhook import Receiver
from tests.alerting.test_cluster_alerts import alert_state, running
from tests.index import test_alerts_live as live

es_cluster = node_fixtures.es_cluster
es_cluster_settings = node_fixtures.es_cluster_settings
sink = live.sink

pytestmark = pytest.mark.elasticsearch

TO = "desk@lab.localhost"
MD5 = "0d3c1a2b4e5f60718293a4b5c6d7e8f9"
IH = "7a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
IH_B = "8b1b2c3d4e5f60718293a4b5c6d7e8f901234567"
KEY = "lab-webhook-key"
NOW = datetime.now(UTC)
RULE = {"name": "flagged-digest", "type": "hit", "recipients": [TO], "digest_s": 2.0,
        "kinds": ["page", "observation"]}
LINK = re.compile(r"http://console\.localhost/alerts/([0-9a-f]+)")


def installation(build: Callable[..., Settings], prefix: str, data: Path, smtp_port: int,
                 hook_url: str, lease_s: float = 120.0) -> Settings:
    live.flag(data, Entry("lab-media", "md5", MD5, "img", "e-1", "2026-11-29T00:00:00Z"),
              Entry("lab-swarm", "infohash", IH, "swarm", "e-2", "2026-11-29T00:00:00Z"),
              Entry("lab-swarm", "infohash", IH_B, "swarm", "e-3", "2026-11-29T00:00:00Z"))
    return installations.installation(
        build, prefix, data, smtp_port, rules=[RULE],
        alerts={"delivery_lease_s": lease_s, "webhook": {"urls": [hook_url], "secret": KEY}},
        matching={"flood_hits": 2, "flood_window_s": 3600},
    )


def lab_documents(*, only_b: bool = False) -> list[Document]:
    """Three pages with one flagged image (the third hit floods it) and a flagged peer."""
    pages: list[Document] = [
        Page(url=f"http://marketabc.onion/item/{n}", fetched_at=NOW,
             media=[{"url": f"http://marketabc.onion/{n}.png", "md5": MD5}])
        for n in (1, 2, 3)
    ]
    peers: list[Document] = [Observation(infohash=IH, ip="127.0.0.9", port=51413,
                                         first_seen=NOW, last_seen=NOW, level=1,
                                         sources=["tracker"])]
    if only_b:
        peers.append(Observation(infohash=IH_B, ip="127.0.0.10", port=6881, first_seen=NOW,
                                 last_seen=NOW, level=1, sources=["dht"]))
    return pages + peers


def cluster_docs(settings: Settings, kind: str) -> list[dict[str, Any]]:
    store = EsClusterAlerts(settings.elasticsearch)
    try:
        name = store._indices[kind]
        store.client.indices.refresh(index=name)
        return [h["_source"] for h in store.client.search(index=name, size=500)["hits"]["hits"]]
    finally:
        store.close()


def settled(settings: Settings) -> bool:
    """Every digest made into email and every message of the cluster delivered."""
    digests = cluster_docs(settings, "digest")
    messages = cluster_docs(settings, "message")
    return (bool(digests) and all(d["status"] == "done" for d in digests)
            and bool(messages) and all(m["status"] == "sent" for m in messages))


def drained(settings: Settings, store: Any) -> bool:
    with alert_state(settings.data_dir) as state:
        quarantined = any(a.rule == RULE_NAME for a in state.list(limit=500))
        return quarantined and not state.cluster_pending() and not store.spool.backlog()


def check_once(settings: Settings, mails: list[Any]) -> dict[str, Any]:
    """Every message of the cluster's outbox delivered exactly once, each alert in one mail."""
    claims = {record_of(c).id: record_of(c) for c in cluster_docs(settings, "alert")}
    messages = cluster_docs(settings, "message")
    emails = [m for m in messages if m["channel"] == "email"]
    ids = Counter(m["Message-ID"] for m in mails)
    assert set(ids) == {m["message_id"] for m in emails} and set(ids.values()) == {1}, ids
    quarantine = [a for a in claims.values() if a.rule == RULE_NAME]
    assert len(quarantine) == 1 and quarantine[0].key == f"md5:{MD5}"
    told = Counter(a for m in mails for a in set(LINK.findall(live.text_of(m).replace("=\n", ""))))
    assert told == dict.fromkeys(claims, 1), (
        told, {a: (c.rule, c.key, c.created_at) for a, c in claims.items()},
        [(m["Subject"], sorted(set(LINK.findall(live.text_of(m).replace("=\n", "")))))
         for m in mails],
        [(d["bucket"], d["status"], d["alert_ids"]) for d in cluster_docs(settings, "digest")])
    digests = [m for m in mails if "digest of" in str(m["Subject"])]
    assert digests and all(m["To"] == TO for m in mails)
    return claims


async def test_two_installations_share_digests_quarantine_and_webhooks(
        es_cluster_settings: Callable[..., Settings], sink: live.Sink, tmp_path: Path) -> None:
    prefix = f"cs{uuid.uuid4().hex[:8]}"
    receiver = await Receiver(KEY.encode()).start()
    try:
        a = installation(es_cluster_settings, prefix, tmp_path / "a", sink.port, receiver.url)
        b = installation(es_cluster_settings, prefix, tmp_path / "b", sink.port, receiver.url)
        async with running(a) as (store_a, sender_a), running(b) as (store_b, sender_b):
            assert sender_a is not None and sender_b is not None
            store_a.append(lab_documents())
            store_b.append(lab_documents(only_b=True))
            await live.wait_until(lambda: drained(a, store_a) and drained(b, store_b), 120,
                                  "both installations to raise and publish their alerts",
                                  sink.log)
            await live.wait_until(lambda: settled(a), 60, "every digest and message delivered",
                                  sink.log)
            passes = (sender_a.counters.passes, sender_b.counters.passes)
            await live.wait_until(lambda: sender_a.counters.passes > passes[0] + 2
                                  and sender_b.counters.passes > passes[1] + 2, 30,
                                  "more passes of each sender")
        claims = check_once(a, sink.messages())
        # Both quarantined the value; both know the one cluster alert under its one id.
        for data in (a.data_dir, b.data_dir):
            with alert_state(data) as state:
                [mine] = [x for x in state.list(limit=500) if x.rule == RULE_NAME]
                assert mine.id in claims
        delivered = Counter(body["id"] for _, body in receiver.accepted)
        assert delivered == dict.fromkeys(claims, 1) and receiver.refused == 0
        assert len({d for d, _ in receiver.accepted}) == len(receiver.accepted)
    finally:
        await receiver.stop()


async def test_a_sender_killed_mid_delivery_loses_and_doubles_nothing(
        es_cluster_settings: Callable[..., Settings], sink: live.Sink, tmp_path: Path) -> None:
    prefix = f"ck{uuid.uuid4().hex[:8]}"
    silent = installations.silent_smtp_server()
    receiver = await Receiver(KEY.encode()).start()
    try:
        a = installation(es_cluster_settings, prefix, tmp_path / "a", silent.getsockname()[1],
                         receiver.url, lease_s=3.0)
        b = installation(es_cluster_settings, prefix, tmp_path / "b", sink.port, receiver.url,
                         lease_s=3.0)
        async with running(a, sender=False) as (store_a, _), \
                running(b, sender=False) as (store_b, _):
            store_a.append(lab_documents())
            store_b.append(lab_documents(only_b=True))
            await live.wait_until(lambda: drained(a, store_a) and drained(b, store_b), 120,
                                  "both installations to publish their alerts")
        # A's sender, as its own process, hangs in its first email.
        config = installations.sender_config(tmp_path / "a.toml", a, smtp_timeout_s=120.0)
        log = tmp_path / "sender-a.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "heroes.cli", "--config", str(config), "--data-dir",
                 str(a.data_dir), "alerts", "send"], stdout=out, stderr=out, cwd=live.ROOT,
                env={**os.environ, "HEROES_ALERTS__WEBHOOK__SECRET": KEY})
        try:
            def claimed() -> bool:
                return [m["channel"] for m in cluster_docs(a, "message")
                        if m["status"] == "sending"] == ["email"]

            await live.wait_until(claimed, 60, "A's sender to claim an email", log.read_text)
            [held] = [m for m in cluster_docs(a, "message") if m["status"] == "sending"]
            proc.send_signal(signal.SIGKILL)  # in the SMTP conversation that never answers
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            silent.close()
        async with running(b) as (_, sender_b):
            assert sender_b is not None
            await live.wait_until(lambda: settled(a), 60, "B to deliver everything", sink.log)
            passes = sender_b.counters.passes
            await live.wait_until(lambda: sender_b.counters.passes > passes + 2, 30,
                                  "more passes of B's sender")
        claims = check_once(a, sink.messages())
        [again] = [m for m in cluster_docs(a, "message")
                   if m["message_id"] == held["message_id"]]
        assert again["attempts"] == 2 and again["sent_at"] >= held["lease_until"]
        assert held["owner"] and again["status"] == "sent"
        # Every alert posted, under one delivery id each. A's sender posted webhooks while its
        # email hung; one it was killed after posting, before recording it sent, B posts
        # again (at least once) with the same X-Heroes-Delivery, by which the receiver knows it.
        assert {body["id"] for _, body in receiver.accepted} == set(claims)
        per_delivery: dict[str, set[str]] = {}
        for delivery, body in receiver.accepted:
            per_delivery.setdefault(delivery, set()).add(body["id"])
        assert len(per_delivery) == len(claims) and receiver.refused == 0
        assert all(len(ids) == 1 for ids in per_delivery.values()), per_delivery
    finally:
        await receiver.stop()
