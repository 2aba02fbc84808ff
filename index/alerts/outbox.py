"""The durable outbox: one row per email message, written in the same transaction as its alert.

Message states: ``queued`` -> ``sending`` (committed before the SMTP conversation) ->
``sent`` (only after the server accepted the message) or ``failed`` (the server refused
it permanently). A crash while ``sending`` leaves the row due again, so the message is
sent at most once more, with the same Message-ID. Temporary failures stay ``queued`` with
a later ``next_attempt`` (exponential backoff, settings ``smtp.retry_initial_s`` and
``smtp.retry_max_s``). Digest rules collect alerts per time bucket and get one message
per bucket and recipient once the bucket has closed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from config.sections.alerts import AlertRule
from index.alerts.db import AlertDB
from index.alerts.record import read_record
from index.alerts.render import render_alert, render_digest

if TYPE_CHECKING:
    from index.alerts.record import AlertRecord

MESSAGE_DOMAIN = "heroes.alerts"


@dataclass(frozen=True)
class OutMessage:
    message_id: str
    recipient: str
    subject: str
    text_body: str
    html_body: str
    alert_ids: list[str]
    status: str
    attempts: int
    next_attempt: float
    last_error: str
    created_at: float
    sent_at: float | None
    server_reply: str


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
    subject, text, html = render_alert(record, console_url)
    for to in recipients:
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
    def __init__(self, db: AlertDB, *, console_url: str = ""):
        self.db = db
        self.console_url = console_url

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

    def next_due(self) -> float | None:
        row = self.db.conn.execute(
            "SELECT MIN(next_attempt) FROM outbox WHERE status IN ('queued', 'sending')"
        ).fetchone()
        return row[0]

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

    def postpone_due(self, now: float, until: float, error: str) -> int:
        """Push every due message to ``until`` (the server is down: no point trying each)."""
        with self.db.transaction() as conn:
            return conn.execute(
                "UPDATE outbox SET next_attempt = ?, last_error = ? WHERE status IN"
                " ('queued', 'sending') AND next_attempt <= ?", (until, error[:1000], now)
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
