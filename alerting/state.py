"""What the alert engine knows: alerts, the documents and terms rules have seen, counts.

Exactly once under replay: a firing whose (rule, document, version) was already applied
changes nothing; alert ids are deterministic (rule, key, window start) and outbox message
ids derive from them. Realert: a firing whose key has an alert whose window
(``realert_s``) covers the document's time joins that alert (count, last seen, matched
documents) without another email.

With a cluster (``cluster=True``, alerting.cluster_state) a new alert's messages are not
queued here: the alert waits in ``cluster_pending`` (same transaction, with whom to tell at
once and which addresses get it in a digest) until it, its messages and its digest entry
are published to the cluster, and alerts other machines raised are imported first so the
realert window covers them too. ``webhooks`` (setting ``alerts.webhook.urls``) get every
new alert at once, digest rule or not. A firing with a ``window_anchor`` has its window
start there: one alert per key for the rule's whole life.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alerting.db import AlertDB
from alerting.outbox import digest_bucket, enqueue_alert_messages
from alerting.record import COLUMNS, AlertRecord, alert_id, read_record, record_from_row
from alerting.rules import Firing
from config.sections.alerts import AlertRule


@dataclass(frozen=True)
class PendingDelivery:
    """Who hears of an alert not yet published to the cluster."""

    at_once: list[str]  # email addresses and webhook URLs
    digest: list[str]  # addresses that get it in their rule's digest
    digest_s: float

    @classmethod
    def from_json(cls, text: str) -> PendingDelivery:
        data = json.loads(text)
        if isinstance(data, list):  # written before digests were shared
            return cls(data, [], 0.0)
        return cls(data["at_once"], data["digest"], data["digest_s"])

    def to_json(self) -> str:
        return json.dumps(
            {"at_once": self.at_once, "digest": self.digest, "digest_s": self.digest_s})


class AlertState:
    def __init__(
        self, db: AlertDB, *, console_url: str = "", max_matched: int = 100, cluster: bool = False,
        webhooks: Sequence[str] = (),
    ):
        self.db = db
        self.console_url = console_url
        self.max_matched = max_matched
        self.cluster = cluster
        self.webhooks = list(webhooks)

    def apply(
        self, firings: Sequence[Firing], rules: dict[str, AlertRule], now: float
    ) -> list[str]:
        """Turn firings into alerts and outbox entries in one transaction; returns changed ids."""
        changed: list[str] = []
        with self.db.transaction() as conn:
            for firing in firings:
                rule = rules.get(firing.rule)
                if rule is None:
                    continue
                result = self._apply_one(conn, firing, rule, now)
                if result:
                    changed.append(result)
        return list(dict.fromkeys(changed))

    def _apply_one(self, conn: sqlite3.Connection, f: Firing, rule: AlertRule, now: float) -> str:
        seen = conn.execute(
            "SELECT 1 FROM alert_docs WHERE rule=? AND doc_kind=? AND doc_id=? AND version=?",
            (f.rule, f.doc_kind, f.doc_id, f.version),
        ).fetchone()
        if seen:
            return ""
        t = f.time.timestamp()
        key = f.key
        fired = True
        if rule.type == "new_term":
            new = [
                term
                for term in f.terms
                if conn.execute(
                    "INSERT OR IGNORE INTO seen_terms VALUES (?, ?, ?)", (f.rule, term, t)
                ).rowcount
            ]
            fired = bool(new)
            if fired and not rule.key:
                key = " ".join(new)
        elif rule.type == "frequency":
            conn.execute(
                "INSERT OR IGNORE INTO freq_events VALUES (?, ?, ?, ?)",
                (f.rule, key, f"{f.doc_kind}/{f.doc_id}/{f.version}", t),
            )
            n = conn.execute(
                "SELECT COUNT(*) FROM freq_events WHERE rule=? AND key=? AND at > ? AND at <= ?",
                (f.rule, key, t - rule.window_s, t),
            ).fetchone()[0]
            fired = n >= rule.threshold
            conn.execute(
                "DELETE FROM freq_events WHERE rule=? AND key=? AND at <= ?",
                (f.rule, key, t - 2 * rule.window_s),
            )
        target = ""
        if fired:
            target = self._fold_or_create(conn, f, rule, key, t, now)
        conn.execute(
            "INSERT INTO alert_docs VALUES (?, ?, ?, ?, ?)",
            (f.rule, f.doc_kind, f.doc_id, f.version, target),
        )
        return target

    def _fold_or_create(
        self, conn: sqlite3.Connection, f: Firing, rule: AlertRule, key: str, t: float, now: float
    ) -> str:
        ref = {"kind": f.doc_kind, "id": f.doc_id, "summary": f.summary[:300]}
        if f.window_anchor is not None:
            row = conn.execute(
                "SELECT id, window_start, matched FROM alerts WHERE id = ?",
                (alert_id(f.rule, key, f.window_anchor),),
            ).fetchone()
            covers = row is not None
        else:
            row = conn.execute(
                "SELECT id, window_start, matched FROM alerts WHERE rule=? AND key=?"
                " AND window_start <= ? ORDER BY window_start DESC LIMIT 1",
                (f.rule, key, t),
            ).fetchone()
            if row is None:  # a document older than the open window may still fall into it
                row = conn.execute(
                    "SELECT id, window_start, matched FROM alerts WHERE rule=? AND key=?"
                    " AND window_start > ? ORDER BY window_start LIMIT 1",
                    (f.rule, key, t),
                ).fetchone()
            covers = row is not None and abs(t - row[1]) < rule.realert_s
        if row is not None and covers:
            matched = json.loads(row[2])
            if ref not in matched and len(matched) < self.max_matched:
                matched.append(ref)
            conn.execute(
                "UPDATE alerts SET count = count + 1, first_seen = MIN(first_seen, ?),"
                " last_seen = MAX(last_seen, ?), matched = ?, rev = rev + 1 WHERE id = ?",
                (t, t, json.dumps(matched), row[0]),
            )
            return row[0]
        start = t if f.window_anchor is None else f.window_anchor
        new_id = alert_id(f.rule, key, start)
        deliveries: list[dict[str, Any]] = []
        conn.execute(
            f"INSERT OR IGNORE INTO alerts ({COLUMNS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'new', ?, ?, ?, ?, '', NULL, '', 1)",
            (
                new_id,
                f.rule,
                f.rule_type,
                key,
                rule.severity,
                start,
                now,
                t,
                t,
                f.summary,
                json.dumps([list(x) for x in f.facts]),
                json.dumps([ref]),
                json.dumps(deliveries),
            ),
        )
        record = read_record(conn, new_id)
        if record is None:
            return ""
        digest = list(rule.recipients) if rule.digest_s > 0 else []
        at_once = [*(to for to in rule.recipients if to not in digest), *self.webhooks]
        if self.cluster:
            pending = PendingDelivery(at_once, digest, rule.digest_s)
            conn.execute(
                "INSERT OR IGNORE INTO cluster_pending VALUES (?, ?)", (new_id, pending.to_json())
            )
            return new_id
        if digest:
            bucket = digest_bucket(conn, rule, now)
            for to in digest:
                conn.execute(
                    "INSERT OR IGNORE INTO digest_items VALUES (?, ?, ?, ?, ?)",
                    (rule.name, bucket, to, new_id, (bucket + 1) * rule.digest_s),
                )
        enqueue_alert_messages(conn, record, at_once, self.console_url, now)
        return new_id

    def import_alerts(self, records: Sequence[AlertRecord]) -> int:
        """Take alerts raised elsewhere (the cluster) as known; returns how many were new.

        They are not spooled from here (their machine did) and queue no email; an
        acknowledgement made elsewhere is taken over by the alert known here.
        """
        added = 0
        with self.db.transaction() as conn:
            for r in records:
                added += conn.execute(
                    f"INSERT OR IGNORE INTO alerts ({COLUMNS}, spooled_rev) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        r.id, r.rule, r.rule_type, r.key, r.severity, r.window_start,
                        r.created_at, r.first_seen, r.last_seen, r.count, r.status, r.summary,
                        json.dumps(r.facts), json.dumps(r.matched), json.dumps(r.deliveries),
                        r.acknowledged_by, r.acknowledged_at, r.comment, r.rev, r.rev,
                    ),
                ).rowcount
                if r.status == "acknowledged":
                    # Acknowledged elsewhere: a later join here must not undo it.
                    conn.execute(
                        "UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?,"
                        " acknowledged_at = ?, comment = ? WHERE id = ?"
                        " AND status != 'acknowledged'",
                        (r.acknowledged_by, r.acknowledged_at, r.comment, r.id),
                    )
        return added

    def cluster_pending(self) -> list[tuple[AlertRecord, PendingDelivery]]:
        """New alerts not yet published to the cluster, with who hears of them."""
        rows = self.db.conn.execute("SELECT alert_id, recipients FROM cluster_pending").fetchall()
        found = [(read_record(self.db.conn, a), PendingDelivery.from_json(to)) for a, to in rows]
        return [(r, to) for r, to in found if r is not None]

    def cluster_published(self, ids: Sequence[str]) -> None:
        with self.db.transaction() as conn:
            conn.executemany("DELETE FROM cluster_pending WHERE alert_id = ?", [(i,) for i in ids])

    def get(self, alert: str) -> AlertRecord | None:
        """One alert by id, or by a unique id prefix."""
        found = read_record(self.db.conn, alert)
        if found is None and len(alert) >= 6:
            rows = self.db.conn.execute(
                f"SELECT {COLUMNS} FROM alerts WHERE id LIKE ? LIMIT 2", (alert + "%",)
            ).fetchall()
            found = record_from_row(rows[0]) if len(rows) == 1 else None
        return found

    def list(self, *, status: str = "", limit: int = 50) -> list[AlertRecord]:
        sql = f"SELECT {COLUMNS} FROM alerts"
        args: tuple[Any, ...] = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        sql += " ORDER BY created_at DESC, id LIMIT ?"
        return [record_from_row(r) for r in self.db.conn.execute(sql, (*args, limit))]

    def ack(self, alert: str, by: str, comment: str, now: float) -> AlertRecord | None:
        record = self.get(alert)
        if record is None:
            return None
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE alerts SET status='acknowledged', acknowledged_by=?,"
                " acknowledged_at=?, comment=?, rev = rev + 1 WHERE id = ?",
                (by, now, comment, record.id),
            )
        return self.get(record.id)

    def spool_pending(self, append: Any) -> int:
        """Append the current version of every alert whose document is behind to the spool.

        Runs inside a write transaction so that the engine and the sender (maybe in another
        process) never append an older version after a newer one.
        """
        with self.db.transaction() as conn:
            rows = conn.execute(f"SELECT {COLUMNS} FROM alerts WHERE spooled_rev < rev").fetchall()
            if not rows:
                return 0
            records = [record_from_row(r) for r in rows]
            append([r.to_document() for r in records])
            conn.executemany(
                "UPDATE alerts SET spooled_rev = ? WHERE id = ?", [(r.rev, r.id) for r in records]
            )
        return len(records)
