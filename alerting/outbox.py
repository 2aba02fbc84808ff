"""The durable outbox: one row per email message, written in the same transaction as its alert.

Message states: ``queued`` -> ``sending`` (committed before the SMTP conversation) ->
``sent`` (only after the server accepted the message) or ``failed`` (the server refused
it permanently). A crash while ``sending`` leaves the row due again, so the message is
sent at most once more, with the same Message-ID. Temporary failures stay ``queued`` with
a later ``next_attempt`` (exponential backoff, settings ``smtp.retry_initial_s`` and
``smtp.retry_max_s``). Digest rules collect alerts per time bucket and get one message
per bucket and recipient once the bucket has closed. A webhook endpoint (a recipient that
is a URL, alerting.delivery) gets one message per alert, digest rule or not, whose text body
is the JSON the endpoint receives. :class:`Outbox` is the local
:class:`~alerting.delivery.OutboxStore` the sender delivers from.
"""

from __future__ import annotations

import hashlib
import html
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from alerting.db import AlertDB
from alerting.delivery import Channel, Claim, OutMessage, channel_of
from alerting.record import read_record
from alerting.render import render_alert, render_digest, render_webhook
from config.sections.alerts import AlertRule

if TYPE_CHECKING:
    from alerting.record import AlertRecord

MESSAGE_DOMAIN = "heroes.alerts"


_MSG_COLUMNS = (
    "message_id, recipient, subject, text_body, html_body, alert_ids, status, attempts,"
    " next_attempt, last_error, created_at, sent_at, server_reply"
)


def _message(row: Sequence[Any]) -> OutMessage:
    values = list(row)
    values[5] = json.loads(values[5])
    return OutMessage(*values)


def message_id(*parts: str) -> str:
    """A stable RFC 5322 Message-ID, so a resent duplicate can be recognised."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]
    return f"<{digest}@{MESSAGE_DOMAIN}>"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _insert(
    conn: sqlite3.Connection,
    mid: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    alert_ids: list[str],
    now: float,
) -> bool:
    cur = conn.execute(
        f"INSERT OR IGNORE INTO outbox ({_MSG_COLUMNS}) VALUES"
        " (?, ?, ?, ?, ?, ?, 'queued', 0, ?, '', ?, NULL, '')",
        (mid, to, subject, text, html, json.dumps(alert_ids), now, now),
    )
    if cur.rowcount:
        for alert in alert_ids:
            _set_delivery(conn, alert, to, mid, "queued", now, "")
    return bool(cur.rowcount)


def _set_delivery(
    conn: sqlite3.Connection, alert: str, to: str, mid: str, status: str, at: float, error: str
) -> None:
    row = conn.execute("SELECT deliveries FROM alerts WHERE id = ?", (alert,)).fetchone()
    if row is None:
        return
    deliveries = [d for d in json.loads(row[0]) if d.get("message_id") != mid]
    entry = {"to": to, "status": status, "at": _iso(at), "message_id": mid}
    if error:
        entry["error"] = error[:500]
    deliveries.append(entry)
    conn.execute(
        "UPDATE alerts SET deliveries = ?, rev = rev + 1 WHERE id = ?",
        (json.dumps(deliveries), alert),
    )


def enqueue_alert_messages(
    conn: sqlite3.Connection,
    record: AlertRecord,
    recipients: Sequence[str],
    console_url: str,
    now: float,
) -> None:
    """Queue the messages of one new alert: an email per address, a POST per webhook URL."""
    subject, text, html = render_alert(record, console_url)
    body = ""
    for to in recipients:
        if channel_of(to) == "webhook":
            body = body or render_webhook(record, console_url)
            _insert(conn, message_id(record.id, to), to, subject, body, "", [record.id], now)
        else:
            _insert(conn, message_id(record.id, to), to, subject, text, html, [record.id], now)


def digest_bucket(conn: sqlite3.Connection, rule: AlertRule, now: float) -> int:
    """The open digest bucket of a rule at ``now`` (the next one if this one was composed)."""
    bucket = int(now // rule.digest_s)
    while conn.execute(
        "SELECT 1 FROM digests_done WHERE rule = ? AND bucket = ?", (rule.name, bucket)
    ).fetchone():
        bucket += 1
    return bucket


class Outbox:
    """The local outbox; also the sender's :class:`~alerting.delivery.OutboxStore` for it."""

    name = "local"

    def __init__(self, db: AlertDB, *, console_url: str = ""):
        self.db = db
        self.console_url = console_url

    # The OutboxStore side: a claim is the ``sending`` mark, committed before delivery.
    def compose(self, now: float) -> int:
        return self.compose_digests(now)

    def peek(self, item: OutMessage) -> OutMessage:
        return item

    def claim(self, item: OutMessage, now: float) -> Claim | None:
        self.mark_sending(item.message_id)
        return Claim(replace(item, status="sending", attempts=item.attempts + 1))

    def sent(self, claim: Claim, reply: str, at: float) -> None:
        self.mark_sent(claim.message.message_id, reply, at)

    def retry(self, claim: Claim, until: float, error: str) -> None:
        self.retry_later(claim.message.message_id, until, error)

    def failed(self, claim: Claim, error: str, at: float) -> None:
        self.mark_failed(claim.message.message_id, error, at)

    def postpone(self, now: float, until: float, error: str, channel: Channel) -> int:
        return self.postpone_due(now, until, error, channel=channel)

    def close(self) -> None:
        """The database belongs to whoever opened it (the sender closes it)."""

    def enqueue(self, mid: str, to: str, subject: str, text: str, now: float) -> bool:
        """Queue one plain message that belongs to no alert (e.g. a tree head for a witness);
        False when a message with this Message-ID is already queued or sent."""
        with self.db.transaction() as conn:
            body = "<pre>" + html.escape(text) + "</pre>"
            return _insert(conn, mid, to, subject, text, body, [], now)

    def compose_digests(self, now: float) -> int:
        """Turn every closed digest bucket into one message per recipient; returns how many."""
        made = 0
        with self.db.transaction() as conn:
            buckets = conn.execute(
                "SELECT DISTINCT rule, bucket FROM digest_items WHERE due <= ? AND NOT EXISTS"
                " (SELECT 1 FROM digests_done d WHERE d.rule = digest_items.rule"
                " AND d.bucket = digest_items.bucket)",
                (now,),
            ).fetchall()
            for rule, bucket in buckets:
                items = conn.execute(
                    "SELECT recipient, alert_id FROM digest_items WHERE rule = ?"
                    " AND bucket = ? ORDER BY alert_id",
                    (rule, bucket),
                ).fetchall()
                by_to: dict[str, list[str]] = {}
                for to, alert in items:
                    by_to.setdefault(to, []).append(alert)
                for to, alert_ids in by_to.items():
                    records = [r for r in (read_record(conn, a) for a in alert_ids) if r]
                    if not records:
                        continue
                    subject, text, html = render_digest(rule, records, self.console_url)
                    made += _insert(
                        conn,
                        message_id("digest", rule, str(bucket), to),
                        to,
                        subject,
                        text,
                        html,
                        [r.id for r in records],
                        now,
                    )
                conn.execute("INSERT INTO digests_done VALUES (?, ?)", (rule, bucket))
        return made

    def due(self, now: float, limit: int = 100) -> list[OutMessage]:
        rows = self.db.conn.execute(
            f"SELECT {_MSG_COLUMNS} FROM outbox WHERE status IN ('queued', 'sending')"
            " AND next_attempt <= ? ORDER BY next_attempt, created_at LIMIT ?",
            (now, limit),
        )
        return [_message(r) for r in rows]

    def mark_sending(self, mid: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1"
                " WHERE message_id = ?",
                (mid,),
            )

    def mark_sent(self, mid: str, reply: str, now: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, server_reply = ?,"
                " last_error = '' WHERE message_id = ?",
                (now, reply[:500], mid),
            )
            self._deliveries(conn, mid, "sent", now, "")

    def retry_later(self, mid: str, at: float, error: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'queued', next_attempt = ?, last_error = ?"
                " WHERE message_id = ?",
                (at, error[:1000], mid),
            )

    def postpone_due(self, now: float, until: float, error: str, *,
                     channel: Channel = "email") -> int:
        """Push every due message of a channel to ``until`` (the server is down: no point
        trying each)."""
        # alerting.delivery.channel_of, in SQL.
        webhook = "(recipient LIKE 'http://%' OR recipient LIKE 'https://%')"
        which = webhook if channel == "webhook" else f"NOT {webhook}"
        with self.db.transaction() as conn:
            return conn.execute(
                "UPDATE outbox SET next_attempt = ?, last_error = ? WHERE status IN"
                f" ('queued', 'sending') AND next_attempt <= ? AND {which}",
                (until, error[:1000], now),
            ).rowcount

    def mark_failed(self, mid: str, error: str, now: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'failed', last_error = ? WHERE message_id = ?",
                (error[:1000], mid),
            )
            self._deliveries(conn, mid, "failed", now, error)

    @staticmethod
    def _deliveries(
        conn: sqlite3.Connection, mid: str, status: str, now: float, error: str
    ) -> None:
        row = conn.execute(
            "SELECT recipient, alert_ids FROM outbox WHERE message_id = ?", (mid,)
        ).fetchone()
        if row:
            for alert in json.loads(row[1]):
                _set_delivery(conn, alert, row[0], mid, status, now, error)

    def get(self, mid: str) -> OutMessage | None:
        row = self.db.conn.execute(
            f"SELECT {_MSG_COLUMNS} FROM outbox WHERE message_id = ?", (mid,)
        ).fetchone()
        return _message(row) if row else None

    def messages(self, *, status: str = "", limit: int = 100) -> list[OutMessage]:
        sql = f"SELECT {_MSG_COLUMNS} FROM outbox"
        args: tuple[Any, ...] = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        rows = self.db.conn.execute(sql + " ORDER BY created_at LIMIT ?", (*args, limit))
        return [_message(r) for r in rows]

    def counts(self) -> dict[str, int]:
        return dict(self.db.conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"))

    def oldest_waiting(self) -> float | None:
        """When the oldest message not yet sent (nor failed for good) was queued."""
        return self.db.conn.execute(
            "SELECT MIN(created_at) FROM outbox WHERE status NOT IN ('sent', 'failed')"
        ).fetchone()[0]
