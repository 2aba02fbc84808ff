"""The cluster's alert documents: the store interface and the documents' shapes.

:class:`ClusterAlertStore` is what alerting.cluster_state and alerting.cluster_digest need of
the cluster (implemented on Elasticsearch by ``index.backends.es_alerts``); the functions
here turn an alert into its claim document and its message documents and back, the same on
every machine. Reads no settings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from alerting.delivery import OutMessage, channel_of
from alerting.outbox import message_id
from alerting.record import AlertRecord
from alerting.render import render_alert, render_webhook


@dataclass(frozen=True)
class Versioned:
    """A cluster document with the version a conditional update must name."""

    id: str
    source: dict[str, Any]
    seq_no: int
    primary_term: int


class ClusterAlertStore(Protocol):
    """Where the cluster keeps alerts, digests and their messages. Every method raises
    :class:`~errors.BackendUnavailable` when the cluster does not answer. ``kind`` names
    the document family: ``alert`` (claims), ``message`` or ``digest``."""

    def recent_alerts(self, pairs: Sequence[tuple[str, str]], since: float, until: float
                      ) -> list[dict[str, Any]]:
        """Claim documents of these (rule, key) pairs with a window start in [since, until]."""

    def create_alert(self, alert_id: str, doc: dict[str, Any]) -> bool:
        """Create the claim document unless it exists; whether this call created it."""

    def alerts(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The claim documents of these alert ids that exist."""

    def create_messages(self, docs: Sequence[dict[str, Any]]) -> int:
        """Create each message document (field ``message_id``) unless it exists."""

    def due_messages(self, now: float, limit: int) -> list[Versioned]:
        """Messages queued and due, or claimed by a sender whose lease ran out."""

    def create(self, kind: str, doc_id: str, doc: dict[str, Any]) -> bool:
        """Create a document of ``kind`` unless it exists; whether this call created it."""

    def get(self, kind: str, doc_id: str) -> Versioned | None: ...

    def digests_holding(self, rule: str, alert_id: str) -> list[Versioned]:
        """The digest documents of a rule that list this alert."""

    def due_digests(self, now: float, limit: int) -> list[Versioned]:
        """Digests whose bucket has closed and whose email is not made yet."""

    def replace(self, doc: Versioned, source: dict[str, Any], *, kind: str) -> Versioned | None:
        """Write ``source`` over ``doc`` only if nobody changed it since it was read;
        ``None`` when somebody did."""

    def get_alert(self, alert_id: str) -> Versioned | None: ...

    def get_message(self, mid: str) -> Versioned | None: ...

    def close(self) -> None: ...


def claim_document(record: AlertRecord) -> dict[str, Any]:
    return {
        "rule": record.rule,
        "key": record.key,
        "window_start": record.window_start,
        "status": record.status,
        "record": json.dumps(dataclasses.asdict(record)),
    }


def record_of(claim: dict[str, Any]) -> AlertRecord:
    fields = json.loads(claim["record"])
    for name in ("status", "acknowledged_by", "acknowledged_at", "comment"):
        if name in claim:
            fields[name] = claim[name]
    return AlertRecord(**fields)


def message_document(mid: str, to: str, subject: str, text: str, html: str,
                     alert_ids: Sequence[str], now: float) -> dict[str, Any]:
    return {
        "message_id": mid, "recipient": to, "subject": subject, "text_body": text,
        "html_body": html, "alert_ids": list(alert_ids), "status": "queued", "attempts": 0,
        "next_attempt": now, "last_error": "", "created_at": now, "sent_at": None,
        "server_reply": "", "owner": "", "lease_until": 0.0, "channel": channel_of(to),
    }


def message_documents(record: AlertRecord, recipients: Sequence[str], console_url: str,
                      now: float) -> list[dict[str, Any]]:
    """The messages of a new alert, one per recipient (the same on every machine): an email
    per address, a JSON POST per webhook URL."""
    subject, text, html = render_alert(record, console_url)
    docs = []
    for to in recipients:
        if channel_of(to) == "webhook":
            body, markup = render_webhook(record, console_url), ""
        else:
            body, markup = text, html
        docs.append(message_document(message_id(record.id, to), to, subject, body, markup,
                                     [record.id], now))
    return docs


def out_message(source: dict[str, Any]) -> OutMessage:
    return OutMessage(**{f.name: source[f.name] for f in dataclasses.fields(OutMessage)})
