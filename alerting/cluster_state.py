"""Alerts shared by every machine on one cluster: one alert and one message however many raise it.

The cluster (:class:`ClusterAlertStore`, implemented on Elasticsearch by
``index.backends.es_alerts``) keeps four things:

- one claim document per alert, under the alert's deterministic id (rule, key, window start)
  and created only if absent, so two machines raising the same alert make one; before a
  drain applies its firings, the alerts of the same rule and key whose realert window is
  near are imported from there, so an alert raised elsewhere is joined, not repeated;
- one message document per email or webhook POST (id: its Message-ID), also created only if
  absent, so the two machines' copies of one message are one;
- one digest document per digest rule and time bucket (alerting.cluster_digest): the alerts
  the bucket collects from every machine, composed into its email once, by one sender;
- on each message, a delivery lease: a sender claims a due message by a conditional update
  (the cluster refuses it when another sender changed the message first), sends it, and marks
  it sent; a sender that dies mid-delivery leaves a claim that runs out after
  ``alerts.delivery_lease_s``, and the message is due again for every sender.

:class:`ClusterOutbox` is the sender's :class:`~alerting.delivery.OutboxStore` over the
cluster's messages. Acknowledgements are written to the alert's claim document, so every
machine sees them. Built-in quarantine alerts go the same way (their window is the value's
whole life, so their id is the same on every machine). Reads ``alerts.console_url`` and
``alerts.delivery_lease_s`` (through its callers).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any, cast

from alerting.cluster_digest import add_to_digest, compose_digests
from alerting.cluster_store import (
    ClusterAlertStore,
    Versioned,
    claim_document,
    message_documents,
    out_message,
    record_of,
)
from alerting.delivery import Channel, Claim, OutMessage
from alerting.rules import Firing
from alerting.state import AlertState
from config.sections.alerts import AlertRule

log = logging.getLogger(__name__)

__all__ = ["ClusterAlertStore", "ClusterAlerts", "ClusterOutbox", "Versioned", "acknowledge",
           "record_of"]


class ClusterAlerts:
    """The engine's side: imports the alerts near its firings, publishes the ones it raised."""

    def __init__(self, store: ClusterAlertStore, state: AlertState, console_url: str):
        self.store = store
        self.state = state
        self.console_url = console_url

    def import_near(self, firings: Sequence[Firing], rules: dict[str, AlertRule]) -> int:
        """Import the cluster's alerts whose realert window may take one of these firings."""
        pairs = sorted({(f.rule, f.key) for f in firings if f.rule in rules})
        if not pairs:
            return 0
        span = max(rules[r].realert_s for r, _ in pairs)
        times = [f.window_anchor if f.window_anchor is not None else f.time.timestamp()
                 for f in firings]
        claims = self.store.recent_alerts(pairs, min(times) - span, max(times) + span)
        return self.state.import_alerts([record_of(c) for c in claims])

    def publish(self, now: float) -> int:
        """Put every pending new alert and its messages into the cluster; returns how many."""
        pending = self.state.cluster_pending()
        if not pending:
            return 0
        for record, delivery in pending:
            if not self.store.create_alert(record.id, claim_document(record)):
                log.info("alert %s was raised on another machine too: one alert", record.id)
            # Created by whoever comes first; the same ids make both copies one.
            self.store.create_messages(
                message_documents(record, delivery.at_once, self.console_url, now))
            if delivery.digest:
                add_to_digest(self.store, record, delivery.digest, delivery.digest_s, now)
        self.state.cluster_published([r.id for r, _ in pending])
        return len(pending)

    def acknowledge(self, alert_id: str, by: str, comment: str, at: float) -> bool:
        return acknowledge(self.store, alert_id, by, comment, at)


def acknowledge(store: ClusterAlertStore, alert_id: str, by: str, comment: str, at: float
                ) -> bool:
    """Write an acknowledgement to the alert's claim document; False if it has none."""
    while True:
        found = store.get_alert(alert_id)
        if found is None:
            return False
        source = {**found.source, "status": "acknowledged", "acknowledged_by": by,
                  "acknowledged_at": at, "comment": comment}
        if store.replace(found, source, kind="alert") is not None:
            return True


class ClusterOutbox:
    """The cluster's messages as an :class:`~alerting.delivery.OutboxStore`: a claim is a
    lease (owner and ``lease_until``) written by a conditional update."""

    name = "cluster"

    def __init__(self, store: ClusterAlertStore, lease_s: float, console_url: str):
        self.store = store
        self.lease_s = lease_s
        self.console_url = console_url
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lost_claims = 0

    def compose(self, now: float) -> int:
        return compose_digests(self.store, self.console_url, now)

    def due(self, now: float, limit: int) -> list[Versioned]:
        return self.store.due_messages(now, limit)

    def peek(self, item: Versioned) -> OutMessage:
        return out_message(item.source)

    def claim(self, item: Versioned, now: float) -> Claim | None:
        source = {**item.source, "status": "sending", "owner": self.owner,
                  "lease_until": now + self.lease_s, "attempts": item.source["attempts"] + 1}
        claimed = self.store.replace(item, source, kind="message")
        return None if claimed is None else Claim(out_message(claimed.source), claimed)

    def sent(self, claim: Claim, reply: str, at: float) -> None:
        self._finish(claim, status="sent", sent_at=at, server_reply=reply[:500], last_error="",
                     owner="")

    def retry(self, claim: Claim, until: float, error: str) -> None:
        self._finish(claim, status="queued", owner="", next_attempt=until,
                     last_error=error[:1000])

    def failed(self, claim: Claim, error: str, at: float) -> None:
        self._finish(claim, status="failed", last_error=error[:1000], owner="")

    def postpone(self, now: float, until: float, error: str, channel: Channel) -> int:
        # The others stay due: the next pass of whichever sender finds them tries again.
        return 0

    def _finish(self, claim: Claim, **fields: Any) -> None:
        held = cast(Versioned, claim.token)  # made by claim() above
        if self.store.replace(held, {**held.source, **fields}, kind="message") is None:
            # Our lease ran out and another sender took the message: it decides from here.
            self.lost_claims += 1
            log.warning("cluster message %s: claim lost before it was marked %s", held.id,
                        fields.get("status"))

    def close(self) -> None:
        self.store.close()
