"""The cluster's alert logic on an in-memory store with the cluster's conditional writes.

Digests collected from two machines, frozen once and made into one message per recipient;
quarantine alerts with one id on every machine; one outbox loop whose claims two senders
cannot both win. The same behaviour on a real cluster: test_cluster_alerts_shared.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from alerting.cluster_digest import add_to_digest, compose_digests, digest_id
from alerting.cluster_state import ClusterAlerts, ClusterOutbox, record_of
from alerting.db import AlertDB
from alerting.rules import Firing
from alerting.sender import Sender
from alerting.state import AlertState
from config import Settings
from config.sections.alerts import AlertRule, AlertSettings, WebhookSettings
from tests.alerting.lab_webhook import Receiver
from tests.alerting.memory_cluster import MemoryCluster

TO = "desk@lab.localhost"
HOOK = "http://127.0.0.1:9/hook"
DIGEST = AlertRule(name="flagged-digest", type="hit", recipients=[TO], digest_s=60)
QUARANTINE = AlertRule(name="flood-quarantine", type="hit", recipients=[TO], realert_s=0)


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[list[AlertState]]:
    dbs = [AlertDB(tmp_path / f"{name}.sqlite") for name in ("a", "b")]
    yield [AlertState(db, console_url="http://console.localhost", cluster=True,
                      webhooks=[HOOK]) for db in dbs]
    for db in dbs:
        db.close()


def firing(key: str, at: float, rule: AlertRule = DIGEST, **kw: object) -> Firing:
    return Firing(rule=rule.name, rule_type="hit", doc_kind="page", doc_id=f"p-{key}-{at}",
                  version=str(at), time=datetime.fromtimestamp(at, UTC), key=key,
                  summary=f"hit {key}", facts=(("Value", key),), **kw)  # type: ignore[arg-type]


def raise_on(state: AlertState, cluster: MemoryCluster, f: Firing, rule: AlertRule,
             now: float) -> None:
    shared = ClusterAlerts(cluster, state, state.console_url)
    shared.import_near([f], {rule.name: rule})
    state.apply([f], {rule.name: rule}, now)
    shared.publish(now)


def test_one_digest_collects_both_machines_and_is_composed_once(
        machines: list[AlertState]) -> None:
    cluster = MemoryCluster()
    a, b = machines
    now = 6000.0  # bucket 100 of 60 s: due at 6060
    raise_on(a, cluster, firing("md5:1", now), DIGEST, now)
    raise_on(b, cluster, firing("md5:1", now), DIGEST, now)  # the same alert: joined
    raise_on(b, cluster, firing("md5:2", now + 1), DIGEST, now + 1)
    [digest] = cluster.sources("digest")
    assert digest["status"] == "open" and len(digest["alert_ids"]) == 2
    # Webhooks hear of each alert at once; the digest's email waits for its bucket.
    assert [m["channel"] for m in cluster.sources("message")] == ["webhook", "webhook"]
    assert compose_digests(cluster, "", now + 30) == 0
    assert compose_digests(cluster, "", now + 61) == 1
    assert compose_digests(cluster, "", now + 62) == 0  # the other sender finds it done
    [mail] = [m for m in cluster.sources("message") if m["channel"] == "email"]
    assert mail["recipient"] == TO and sorted(mail["alert_ids"]) == sorted(digest["alert_ids"])
    assert cluster.sources("digest")[0]["status"] == "done"
    # Raised after its bucket was frozen: the next bucket takes it.
    late = firing("md5:3", now + 2)
    raise_on(a, cluster, late, DIGEST, now + 2)
    assert {d["bucket"] for d in cluster.sources("digest")} == {100, 101}


class UnrefreshedSearch(MemoryCluster):
    """A cluster whose searches do not see the newest digests yet (before a refresh)."""

    def digests_holding(self, rule: str, alert_id: str) -> list:
        return []


def test_an_alert_raised_on_two_clocks_is_in_one_digest(machines: list[AlertState]) -> None:
    cluster = UnrefreshedSearch()
    a, b = machines
    raise_on(a, cluster, firing("md5:1", 6000.0), DIGEST, 6000.0)  # bucket 100, still open
    # B raised the same alert before it saw A's, and publishes with its clock a bucket on.
    b.apply([firing("md5:1", 6000.0)], {DIGEST.name: DIGEST}, 6070.0)
    ClusterAlerts(cluster, b, b.console_url).publish(6070.0)
    [digest] = cluster.sources("digest")
    assert digest["bucket"] == 100 and len(digest["alert_ids"]) == 1


def test_an_alert_claimed_elsewhere_during_this_publish_is_in_one_digest(
        machines: list[AlertState]) -> None:
    cluster = UnrefreshedSearch()
    a, b = machines
    a.apply([firing("md5:1", 6000.0)], {DIGEST.name: DIGEST}, 6000.0)
    # B, a bucket on by its clock, raises and claims the alert while A's publish, begun at
    # 6000 before B's claim existed, is still on its way to it.
    raise_on(b, cluster, firing("md5:1", 6000.0), DIGEST, 6070.0)
    ClusterAlerts(cluster, a, a.console_url).publish(6000.0)
    [digest] = cluster.sources("digest")
    assert digest["bucket"] == 101 and len(digest["alert_ids"]) == 1


def test_a_digest_frozen_by_a_sender_that_died_is_finished_by_another() -> None:
    cluster = MemoryCluster()
    cluster.create("digest", digest_id("r", 1), {
        "rule": "r", "bucket": 1, "due": 2.0, "status": "composed", "alert_ids": [],
        "recipients": [TO], "created_at": 0.0})
    assert compose_digests(cluster, "", 10.0) == 0
    assert cluster.sources("digest")[0]["status"] == "done"


def test_an_addition_racing_the_freeze_is_not_lost(machines: list[AlertState]) -> None:
    cluster = MemoryCluster()
    a, _ = machines
    raise_on(a, cluster, firing("md5:1", 6000.0), DIGEST, 6000.0)
    [found] = cluster.due_digests(7000.0, 10)
    # Another machine adds its alert between this sender's read and its freeze.
    record = a.list()[0]
    other = record.__class__(**{**record.__dict__, "id": "f" * 40})
    cluster.create_alert(other.id, {"rule": other.rule, "key": "k", "window_start": 0,
                                    "status": "new", "record": "{}"})
    assert add_to_digest(cluster, other, [TO], 60, 6001.0) == 100
    assert cluster.replace(found, {**found.source, "status": "composed"}, kind="digest") is None
    assert "f" * 40 in cluster.sources("digest")[0]["alert_ids"]


def test_a_value_quarantined_on_two_machines_at_different_times_is_one_alert(
        machines: list[AlertState]) -> None:
    cluster = MemoryCluster()
    a, b = machines
    raise_on(a, cluster, firing("md5:9", 5000.0, QUARANTINE, window_anchor=0.0), QUARANTINE,
             5000.0)
    raise_on(b, cluster, firing("md5:9", 5900.0, QUARANTINE, window_anchor=0.0), QUARANTINE,
             5900.0)
    [claim] = cluster.sources("alert")
    assert [x.id for x in a.list()] == [x.id for x in b.list()] == [record_of(claim).id]
    mails = [m for m in cluster.sources("message") if m["channel"] == "email"]
    assert len(mails) == 1 and len(cluster.sources("message")) == 2  # one email, one POST


def test_two_senders_cannot_both_claim_a_message(machines: list[AlertState]) -> None:
    cluster = MemoryCluster()
    raise_on(machines[0], cluster, firing("md5:1", 6000.0, QUARANTINE), QUARANTINE, 6000.0)
    one, two = ClusterOutbox(cluster, 30, ""), ClusterOutbox(cluster, 30, "")
    now = time.time()
    items = one.due(now, 10)
    assert len(items) == 2 and len(two.due(now, 10)) == 2
    claim = one.claim(items[0], now)
    assert claim is not None and claim.message.attempts == 1
    assert [v.id for v in two.due(now, 10)] == [items[1].id]  # leased: not due for the other
    assert two.claim(items[0], now) is None  # the version it read has changed
    one.sent(claim, "250 ok", now)
    # Lease over for the second message: the other sender takes it, the first loses it.
    held = one.claim(items[1], now)
    assert held is not None
    [expired] = two.due(now + 31, 10)
    taken = two.claim(expired, now + 31)
    assert taken is not None and taken.message.attempts == 2
    one.sent(held, "250 late", now + 32)
    assert one.lost_claims == 1
    two.sent(taken, "250 ok", now + 32)
    assert {m["status"] for m in cluster.sources("message")} == {"sent"}


async def test_one_sender_loop_delivers_the_local_and_the_cluster_outbox(
        tmp_path: Path, machines: list[AlertState]) -> None:
    """Two machines' senders over one cluster: each cluster POST once, each local one once."""
    receiver = await Receiver(b"k").start()
    cluster = MemoryCluster()
    senders: list[Sender] = []
    try:
        hook = WebhookSettings(urls=[receiver.url], secret=SecretStr("k"))
        for name in ("a", "b"):
            settings = Settings(data_dir=tmp_path / f"s{name}", alerts=AlertSettings(
                webhook=hook, delivery_lease_s=30))
            senders.append(Sender(settings, None, cluster=cluster))  # type: ignore[arg-type]
            senders[-1].open()
        for state in machines:  # the cluster's alerts, raised on both machines
            state.webhooks = [receiver.url]
            raise_on(state, cluster, firing("md5:7", 6000.0, QUARANTINE), QUARANTINE, 6000.0)
        local = AlertState(senders[0].outbox.db, console_url="", webhooks=[receiver.url])
        local.apply([firing("md5:8", 6000.0, QUARANTINE)], {QUARANTINE.name: QUARANTINE},
                    6000.0)
        sent = [await s.run_once() for s in senders] + [await s.run_once() for s in senders]
        assert sent == [2, 0, 0, 0]  # A's pass: its local POST and the cluster's one
        assert sorted(b["key"] for _, b in receiver.accepted) == ["md5:7", "md5:8"]
        assert {m["status"] for m in cluster.sources("message") if m["channel"] == "webhook"
                } == {"sent"}
    finally:
        for s in senders:
            await s.webhooks.close()
            s.close()
        await receiver.stop()
