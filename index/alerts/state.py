"""What the alert engine knows: alerts, the documents and terms rules have seen, counts.

Exactly once under replay: a firing whose (rule, document, version) was already applied
changes nothing; alert ids are deterministic (rule, key, window start) and outbox message
ids derive from them. Realert: a firing whose key has an alert whose window
(``realert_s``) covers the document's time joins that alert (count, last seen, matched
documents) without another email.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from config.sections.alerts import AlertRule
from index.alerts.db import AlertDB
from index.alerts.outbox import digest_bucket, enqueue_alert_messages
from index.alerts.record import COLUMNS, AlertRecord, alert_id, read_record, record_from_row
from index.alerts.rules import Firing


class AlertState:
    def __init__(self, db: AlertDB, *, console_url: str = "", max_matched: int = 100):
        self.db = db
        self.console_url = console_url
        self.max_matched = max_matched

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
        if row is not None and abs(t - row[1]) < rule.realert_s:
            matched = json.loads(row[2])
            if ref not in matched and len(matched) < self.max_matched:
                matched.append(ref)
            conn.execute(
                "UPDATE alerts SET count = count + 1, first_seen = MIN(first_seen, ?),"
                " last_seen = MAX(last_seen, ?), matched = ?, rev = rev + 1 WHERE id = ?",
                (t, t, json.dumps(matched), row[0]),
            )
            return row[0]
        new_id = alert_id(f.rule, key, t)
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
                t,
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
        if rule.digest_s > 0:
            bucket = digest_bucket(conn, rule, now)
            for to in rule.recipients:
                conn.execute(
                    "INSERT OR IGNORE INTO digest_items VALUES (?, ?, ?, ?, ?)",
                    (rule.name, bucket, to, new_id, (bucket + 1) * rule.digest_s),
                )
        else:
            enqueue_alert_messages(conn, record, rule.recipients, self.console_url, now)
        return new_id

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
