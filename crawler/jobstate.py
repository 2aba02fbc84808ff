"""The durable state of one crawl job beside its frontier: content hashes seen, counts.

SQLite in WAL mode under ``<data_dir>/crawl-jobs/<job>/job.sqlite``; with the default
``frontier.backend = "sqlite"`` and ``frontier.scope = "job"`` the job's frontier tables
(:mod:`crawler.frontier.sqlite_store`) live in the same file, and :meth:`JobState.counts`
reads them. A job recorded by an earlier version kept its queue in a ``requests`` table:
:meth:`JobState.legacy_requests` hands its unfinished rows over once. Every write
commits at once, so a SIGKILL loses nothing that was recorded. Reads no settings.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.sqlite import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS content (sha256 TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class PendingRequest:
    """An unfinished request of a job recorded by an earlier version."""

    url: str
    depth: int
    priority: int
    callback: str | None
    errback: str | None


class JobState:
    def __init__(self, path: Path):
        self.path = path
        # NORMAL in WAL mode survives a process kill (only a power loss may drop the last commits).
        self._db = open_database(path, _SCHEMA, version=1)

    def close(self) -> None:
        self._db.close()

    def _has_table(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (name,)).fetchone() is not None

    def legacy_requests(self) -> list[PendingRequest]:
        """The unfinished rows of an earlier version's ``requests`` table."""
        if not self._has_table("requests"):
            return []
        rows = self._db.execute(
            "SELECT url, depth, priority, callback, errback FROM requests WHERE done = 0"
            " ORDER BY seq").fetchall()
        return [PendingRequest(*row) for row in rows]

    def drop_legacy_requests(self) -> None:
        """Once they are in the frontier: rename the table, so they are handed over once."""
        if self._has_table("requests"):
            self._db.execute("ALTER TABLE requests RENAME TO requests_handed_over")

    def content_known(self, sha256: str) -> bool:
        """True if a page with this content was done before in the job."""
        return self._db.execute("SELECT 1 FROM content WHERE sha256 = ?",
                                (sha256,)).fetchone() is not None

    def record_content(self, sha256: str) -> None:
        """Record a done page's content (call it once the page is acked: a page recorded
        sooner and then lost in a crash would come back as a repeat, its links unfollowed)."""
        self._db.execute("INSERT OR IGNORE INTO content (sha256) VALUES (?)", (sha256,))

    def counts(self) -> dict[str, int]:
        """Requests known, done and still to do in the job's own frontier tables (zeros when
        the frontier lives elsewhere: Redis, or the shared database)."""
        if not self._has_table("frontier_hosts"):
            return {"requests": 0, "done": 0, "pending": 0}
        try:
            queued, leased, done, failed = self._db.execute(
                "SELECT COALESCE(SUM(queued), 0), COALESCE(SUM(leased), 0),"
                " COALESCE(SUM(done), 0), COALESCE(SUM(failed), 0) FROM frontier_hosts"
            ).fetchone()
        except sqlite3.Error:
            return {"requests": 0, "done": 0, "pending": 0}
        total = int(queued + leased + done + failed)
        return {"requests": total, "done": int(done), "pending": total - int(done)}
