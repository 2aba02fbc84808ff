"""The durable state of one crawl job: its frontier, the content hashes seen, pages per host.

SQLite in WAL mode under ``<data_dir>/crawl-jobs/<job>/job.sqlite``. Every write commits at
once, so a SIGKILL loses nothing that was recorded: on restart the requests not yet marked
done (including those that were in flight) are queued again. A request is marked done
only after its page document is in the spool, so a page is never lost; fetching one twice
after a crash is harmless (page ids are deterministic). Reads no settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index.sqlite import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    fp TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    depth INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    callback TEXT,
    errback TEXT,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_host ON requests (host);
CREATE INDEX IF NOT EXISTS requests_pending ON requests (done, seq);
CREATE TABLE IF NOT EXISTS content (sha256 TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class PendingRequest:
    fp: str
    seq: int
    url: str
    depth: int
    priority: int
    callback: str | None
    errback: str | None


class JobState:
    def __init__(self, path: Path):
        self.path = path
        # NORMAL in WAL mode survives a process kill (only a power loss may drop the last commits).
        self._db = open_database(path, _SCHEMA)
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()
        self._seq = int(row[0])

    def close(self) -> None:
        self._db.close()

    def add(
        self,
        fp: str,
        url: str,
        host: str,
        depth: int,
        priority: int,
        callback: str | None,
        errback: str | None,
        *,
        force: bool = False,
    ) -> int | None:
        """Record a request; returns its sequence number, or None if it is a duplicate.

        ``force`` (Scrapy's ``dont_filter``, e.g. a retry) queues a known, unfinished request again.
        """
        self._seq += 1
        cur = self._db.execute(
            "INSERT OR IGNORE INTO requests"
            " (fp, seq, url, host, depth, priority, callback, errback)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (fp, self._seq, url, host, depth, priority, callback, errback),
        )
        if cur.rowcount == 1:
            return self._seq
        if force:
            done = self._db.execute("SELECT done FROM requests WHERE fp = ?", (fp,)).fetchone()
            if done is not None and not done[0]:
                return self._seq
        return None

    def pending(self) -> list[PendingRequest]:
        rows = self._db.execute(
            "SELECT fp, seq, url, depth, priority, callback, errback FROM requests"
            " WHERE done = 0 ORDER BY seq"
        ).fetchall()
        return [PendingRequest(*row) for row in rows]

    def mark_done(self, fps: Iterable[str]) -> None:
        self._db.executemany("UPDATE requests SET done = 1 WHERE fp = ?", [(fp,) for fp in fps])

    def host_count(self, host: str) -> int:
        return int(
            self._db.execute("SELECT COUNT(*) FROM requests WHERE host = ?", (host,)).fetchone()[0]
        )

    def is_known(self, fp: str) -> bool:
        return self._db.execute("SELECT 1 FROM requests WHERE fp = ?", (fp,)).fetchone() is not None

    def content_seen(self, sha256: str) -> bool:
        """True if this content was seen before in the job; records it otherwise."""
        cur = self._db.execute("INSERT OR IGNORE INTO content (sha256) VALUES (?)", (sha256,))
        return cur.rowcount == 0

    def counts(self) -> dict[str, int]:
        done, total = self._db.execute(
            "SELECT COALESCE(SUM(done), 0), COUNT(*) FROM requests"
        ).fetchone()
        return {"requests": int(total), "done": int(done), "pending": int(total - done)}
