"""Digest rules on a cluster: every machine's alerts of one time bucket in one email.

A digest document per (rule, bucket) (``bucket = int(time // digest_s)``) lists the alerts
the bucket collects and their recipients. States: ``open`` (machines add alerts to it, each
by a conditional update, so no addition is lost) -> ``composed`` (one sender froze the list
by a conditional update; an alert raised after that goes to the next bucket) -> ``done``
(its messages exist). The messages' ids derive from (rule, bucket, recipient), so a sender
that dies after freezing the list leaves a ``composed`` digest that any sender finishes, and
two senders finishing it make one message each. Reads no settings (``digest_s`` comes with
each alert from its rule).

Every machine that adds one alert walks the buckets from the same start, the bucket of the
alert's creation as its cluster claim records it, reading each bucket in real time: a
machine whose own clock is in a later bucket still finds the alert where the first machine
put it, however recent (a search for the digests holding it sees only refreshed ones).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from alerting.cluster_store import ClusterAlertStore, Versioned, message_document, record_of
from alerting.outbox import message_id
from alerting.record import AlertRecord
from alerting.render import render_digest

log = logging.getLogger(__name__)

KIND = "digest"


def digest_id(rule: str, bucket: int) -> str:
    return hashlib.sha256(f"{rule}\0{bucket}".encode()).hexdigest()[:40]


def add_to_digest(store: ClusterAlertStore, record: AlertRecord, recipients: Sequence[str],
                  digest_s: float, now: float) -> int:
    """Put a new alert into the open digest of its rule; returns the bucket it went to.

    Idempotent: an alert a digest already lists (this machine's earlier try, or another
    machine that raised it too) is not added again.
    """
    held = store.digests_holding(record.rule, record.id)
    if held:
        return int(held[0].source["bucket"])
    # Not this machine's clock: a publish that began before another machine claimed the
    # alert would start a bucket early, and the two additions, racing, would miss each other.
    bucket = int(_created(store, record) // digest_s)
    while True:
        found = store.get(KIND, digest_id(record.rule, bucket))
        if found is None:
            doc = {"rule": record.rule, "bucket": bucket, "due": (bucket + 1) * digest_s,
                   "status": "open", "alert_ids": [record.id],
                   "recipients": sorted(set(recipients)), "created_at": now}
            if store.create(KIND, digest_id(record.rule, bucket), doc):
                return bucket
            continue  # another machine opened it first: read it and add to it
        ids = found.source["alert_ids"]
        if record.id in ids:
            return bucket
        if found.source["status"] != "open":
            bucket += 1  # composed already: the next bucket takes it
            continue
        source = {**found.source, "alert_ids": [*ids, record.id],
                  "recipients": sorted({*found.source["recipients"], *recipients})}
        if store.replace(found, source, kind=KIND) is not None:
            return bucket


def _created(store: ClusterAlertStore, record: AlertRecord) -> float:
    """When the alert was first raised on the cluster: the claim's record, which the first
    machine to raise it wrote; this machine's own record if the claim says nothing."""
    claim = store.get_alert(record.id)
    try:
        return record_of(claim.source).created_at if claim is not None else record.created_at
    except (KeyError, TypeError, ValueError):
        return record.created_at


def compose_digests(store: ClusterAlertStore, console_url: str, now: float) -> int:
    """Freeze every closed digest and make its messages; returns how many messages were made."""
    made = 0
    for found in store.due_digests(now, 100):
        frozen = found
        if found.source["status"] == "open":
            changed = store.replace(found, {**found.source, "status": "composed"}, kind=KIND)
            if changed is None:
                continue  # an alert was added, or another sender froze it: next pass
            frozen = changed
        made += _make_messages(store, frozen, console_url, now)
        store.replace(frozen, {**frozen.source, "status": "done"}, kind=KIND)
    return made


def _make_messages(store: ClusterAlertStore, digest: Versioned, console_url: str,
                   now: float) -> int:
    src = digest.source
    order = {a: n for n, a in enumerate(src["alert_ids"])}
    records = sorted((record_of(c) for c in store.alerts(src["alert_ids"])),
                     key=lambda r: order[r.id])
    if not records:
        log.warning("digest %s of rule %s lists no alert the cluster has", src["bucket"],
                    src["rule"])
        return 0
    subject, text, html = render_digest(src["rule"], records, console_url)
    ids = [r.id for r in records]
    docs = [message_document(message_id("digest", src["rule"], str(src["bucket"]), to), to,
                             subject, text, html, ids, now)
            for to in src["recipients"]]
    return store.create_messages(docs)
