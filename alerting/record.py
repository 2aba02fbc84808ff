"""One alert as the alert store keeps it, and the deterministic id of its document."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from documents import Alert


@dataclass(frozen=True)
class AlertRecord:
    id: str
    rule: str
    rule_type: str
    key: str
    severity: str
    window_start: float
    created_at: float
    first_seen: float
    last_seen: float
    count: int
    status: str
    summary: str
    facts: list[list[str]]
    matched: list[dict[str, str]]
    deliveries: list[dict[str, Any]]
    acknowledged_by: str
    acknowledged_at: float | None
    comment: str
    rev: int

    def to_document(self) -> Alert:
        return Alert(
            rule=self.rule,
            rule_type=self.rule_type,
            key=self.key,
            window_start=to_datetime(self.window_start),
            severity=self.severity,
            status=self.status,
            created_at=to_datetime(self.created_at),
            first_seen=to_datetime(self.first_seen),
            last_seen=to_datetime(self.last_seen),
            count=self.count,
            summary=self.summary,
            matched=self.matched,
            deliveries=self.deliveries,
            acknowledged_by=self.acknowledged_by,
            acknowledged_at=to_datetime(self.acknowledged_at) if self.acknowledged_at else None,
            comment=self.comment,
        )


COLUMNS = (
    "id, rule, rule_type, key, severity, window_start, created_at, first_seen, last_seen,"
    " count, status, summary, facts, matched, deliveries, acknowledged_by, acknowledged_at,"
    " comment, rev"
)


def record_from_row(row: Sequence[Any]) -> AlertRecord:
    values = list(row)
    for i in (12, 13, 14):
        values[i] = json.loads(values[i])
    return AlertRecord(*values)


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def alert_id(rule: str, key: str, window_start: float) -> str:
    """The id of the ``alert`` document, deterministic in (rule, key, window start)."""
    return Alert(
        rule=rule,
        key=key,
        window_start=to_datetime(window_start),
        created_at=to_datetime(window_start),
        first_seen=to_datetime(window_start),
        last_seen=to_datetime(window_start),
    ).id


def read_record(conn: sqlite3.Connection, alert: str) -> AlertRecord | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM alerts WHERE id = ?", (alert,)).fetchone()
    return record_from_row(row) if row else None
