"""The alert database: one SQLite file (WAL) shared by the engine (in the drain) and the sender.

Path: ``<data_dir>/alerts.sqlite`` (setting ``data_dir``). It holds the alerts themselves
(the authority; ``alert`` documents in the index are copies), what the rules have seen
(documents, new terms, frequency events), the outbox of email messages and, with a cluster
(alerting.cluster_state), the new alerts not yet published there. Writes take
``BEGIN IMMEDIATE`` so the engine and a sender in another process serialise cleanly.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from storage.sqlite import open_database, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    rule_type TEXT NOT NULL,
    key TEXT NOT NULL,
    severity TEXT NOT NULL,
    window_start REAL NOT NULL,
    created_at REAL NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    count INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'new',
    summary TEXT NOT NULL,
    facts TEXT NOT NULL,
    matched TEXT NOT NULL,
    deliveries TEXT NOT NULL DEFAULT '[]',
    acknowledged_by TEXT NOT NULL DEFAULT '',
    acknowledged_at REAL,
    comment TEXT NOT NULL DEFAULT '',
    rev INTEGER NOT NULL DEFAULT 1,
    spooled_rev INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_by_key ON alerts (rule, key, window_start);
CREATE INDEX IF NOT EXISTS alerts_unspooled ON alerts (spooled_rev, rev);
CREATE TABLE IF NOT EXISTS alert_docs (
    rule TEXT NOT NULL, doc_kind TEXT NOT NULL, doc_id TEXT NOT NULL, version TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    PRIMARY KEY (rule, doc_kind, doc_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen_terms (
    rule TEXT NOT NULL, term TEXT NOT NULL, first_seen REAL NOT NULL,
    PRIMARY KEY (rule, term)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS freq_events (
    rule TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (rule, key, doc)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS digest_items (
    rule TEXT NOT NULL, bucket INTEGER NOT NULL, recipient TEXT NOT NULL, alert_id TEXT NOT NULL,
    due REAL NOT NULL,
    PRIMARY KEY (rule, bucket, recipient, alert_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS digests_done (
    rule TEXT NOT NULL, bucket INTEGER NOT NULL, PRIMARY KEY (rule, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    message_id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    alert_ids TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    sent_at REAL,
    server_reply TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt);
CREATE TABLE IF NOT EXISTS cluster_pending (
    alert_id TEXT PRIMARY KEY, recipients TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS follows (
    old TEXT NOT NULL, new TEXT NOT NULL, decided_by TEXT NOT NULL, decided_ms INTEGER NOT NULL,
    PRIMARY KEY (old, new)
) WITHOUT ROWID;
"""
# 2: follows (alert rules follow a confirmed relaunch); made by the schema, nothing to fill.
VERSION = 2


class AlertDB:
    def __init__(self, path: Path):
        self.path = path
        # FULL: an alert that was accepted is on disk before its documents leave the spool.
        self.conn = open_database(path, _SCHEMA, synchronous="FULL", version=VERSION)
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # Worker threads share the connection; their transactions must not nest.
        with self._lock, transaction(self.conn) as conn:
            yield conn

    def close(self) -> None:
        self.conn.close()

    def add_follow(self, old: str, new: str, by: str, at_ms: int) -> None:
        """Rules naming ``old`` match for ``new`` too from now on (alerting.follow)."""
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO follows VALUES (?, ?, ?, ?)",
                         (old, new, by, at_ms))

    def follows(self) -> list[tuple[str, str]]:
        """Every confirmed move, in decision order."""
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT old, new FROM follows ORDER BY decided_ms, old, new")]


def alert_db_path(data_dir: Path) -> Path:
    return Path(data_dir) / "alerts.sqlite"
