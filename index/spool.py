"""The durable spool: producers append documents, the drainer moves them into the backend.

SQLite in WAL mode, so any number of processes may append while one drains. A row leaves
the spool only after the backend committed its document (or refused it: then it is moved
to ``rejected`` with the reason). A crash at any point therefore delays documents and
never loses them; replays are harmless because document ids are deterministic.

Appends are group-committed: threads of one process that append at the same time share one
transaction, so one fsync makes a whole group durable, and each :meth:`Spool.append`
returns only once the transaction holding its rows has committed. Bodies are JSON text
written and read with orjson (several times faster than the standard library's ``json``).
How many documents of each kind wait is kept in ``spool_counts`` by the transactions that
append and remove them, so :meth:`Spool.backlog` reads a row per kind. Reads no settings.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from documents import Document
from storage.sqlite import open_database, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    body TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at REAL NOT NULL
);
-- How many rows of each kind wait, kept by every write in its own transaction, so the depth
-- is read at every metrics scrape without counting the spool (seconds at a backlog of a
-- million). Triggers would keep it too, at a statement per row written and deleted.
CREATE TABLE IF NOT EXISTS spool_counts (
    kind TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
"""
SCHEMA_VERSION = 2


def _count_waiting(db: sqlite3.Connection) -> None:
    """Version 2: the counts of a spool written before they were kept."""
    db.execute("DELETE FROM spool_counts")
    db.execute("INSERT INTO spool_counts (kind, n) SELECT kind, count(*) FROM spool GROUP BY kind")


_INSERT = "INSERT INTO spool (kind, doc_id, body, added_at) VALUES (?, ?, ?, ?)"
_DELETE = "DELETE FROM spool WHERE seq IN (SELECT value FROM json_each(?)) RETURNING kind"
_COUNT = ("INSERT INTO spool_counts (kind, n) VALUES (?, ?)"
          " ON CONFLICT (kind) DO UPDATE SET n = n + excluded.n")


def dumps(body: dict[str, Any]) -> str:
    """A document body as JSON text (UTF-8, no escapes: the same JSON the stdlib writes)."""
    try:
        return orjson.dumps(body).decode()
    except (orjson.JSONEncodeError, TypeError):
        # orjson refuses integers beyond 64 bits; the standard library writes them.
        return json.dumps(body, ensure_ascii=False)


def loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # Rows written by ``json.dumps`` may hold NaN or Infinity, which orjson refuses.
        return json.loads(text)


@dataclass
class _Append:
    """One caller's rows waiting for the group commit that makes them durable."""

    rows: list[tuple[str, str, str, float]]
    done: bool = False
    error: BaseException | None = None


@dataclass(frozen=True)
class SpooledDoc:
    seq: int
    kind: str
    doc_id: str
    body: dict[str, Any]
    added_at: float


class Spool:
    """A multi-process-safe queue of documents on disk."""

    def __init__(self, path: Path):
        self.path = path
        # FULL: an append that returned is on disk even if the machine loses power.
        self._db = open_database(path, _SCHEMA, synchronous="FULL", version=SCHEMA_VERSION,
                                 migrations={2: _count_waiting})
        self._tx_lock = threading.Lock()
        # Group commit: the thread holding _commit_lock writes every queued append.
        self._commit_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queued: list[_Append] = []
        self.commits = 0  # transactions written by append (one fsync each)

    def close(self) -> None:
        self._db.close()

    def append(self, docs: Iterable[Document]) -> int:
        """Append documents; returns how many once they are durable.

        All of them go into one transaction, possibly together with other threads' appends
        (group commit); if that transaction fails, every append in it raises."""
        now = time.time()
        mine = _Append([(d.KIND, d.id, dumps(d.source()), now) for d in docs])
        if not mine.rows:
            return 0
        with self._queue_lock:
            self._queued.append(mine)
        with self._commit_lock:
            # A previous holder may have committed our rows with its group while we waited.
            if not mine.done:
                self._commit_queued()
        if mine.error is not None:
            raise mine.error
        return len(mine.rows)

    def _commit_queued(self) -> None:
        with self._queue_lock:
            group, self._queued = self._queued, []
        try:
            with self._transaction():
                rows = [row for a in group for row in a.rows]
                self._db.executemany(_INSERT, rows)
                self._count(Counter(kind for kind, *_ in rows))
        except BaseException as exc:
            for waiting in group:
                waiting.error = exc
            raise
        finally:
            for waiting in group:
                waiting.done = True
        self.commits += 1

    def peek(self, limit: int) -> list[SpooledDoc]:
        """The oldest ``limit`` documents, left in place until :meth:`done`."""
        cur = self._db.execute(
            "SELECT seq, kind, doc_id, body, added_at FROM spool ORDER BY seq LIMIT ?", (limit,)
        )
        return [SpooledDoc(s, k, i, loads(b), a) for s, k, i, b, a in cur.fetchall()]

    def oldest_age(self) -> float | None:
        """Seconds the first document in the spool has waited, ``None`` when it is empty."""
        # The first row by seq, found through the primary key: MIN(added_at) read every row,
        # a quarter of a second per call at 280,000 documents. Rows are numbered in commit
        # order, so a row numbered first may have been stamped a few milliseconds after one
        # that a concurrent append queued behind it.
        row = self._db.execute("SELECT added_at FROM spool ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else time.time() - row[0]

    def holds(self, n: int) -> bool:
        """Whether at least ``n`` documents wait; reads at most ``n`` rows, where
        :meth:`backlog` counts them all."""
        row = self._db.execute("SELECT count(*) FROM (SELECT 1 FROM spool LIMIT ?)",
                               (n,)).fetchone()
        return bool(row[0] >= n)

    def done(self, seqs: Sequence[int]) -> None:
        """Forget documents the backend has committed (seqs no longer waiting are skipped)."""
        with self._transaction():
            self._remove(seqs)

    def _remove(self, seqs: Sequence[int]) -> None:
        """Delete rows by seq and count what went; inside a transaction."""
        listed = orjson.dumps(list(seqs)).decode()  # json_each takes text, not a blob
        gone = Counter(kind for (kind,) in self._db.execute(_DELETE, (listed,)))
        self._count({kind: -n for kind, n in gone.items()})

    def _count(self, change: Mapping[str, int]) -> None:
        self._db.executemany(_COUNT, list(change.items()))

    def reject(self, items: Sequence[tuple[SpooledDoc, str]]) -> None:
        """Move refused documents aside with the reason, so they block nothing and stay visible."""
        now = time.time()
        with self._transaction():
            for doc, reason in items:
                self._db.execute(
                    "INSERT OR REPLACE INTO rejected (seq, kind, doc_id, body, reason, rejected_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (doc.seq, doc.kind, doc.doc_id, dumps(doc.body), reason, now),
                )
            self._remove([doc.seq for doc, _ in items])

    def backlog(self) -> dict[str, int]:
        """How many documents of each kind wait (kinds with none left out)."""
        cur = self._db.execute("SELECT kind, n FROM spool_counts WHERE n > 0 ORDER BY kind")
        return dict(cur.fetchall())

    def rejected(self, limit: int = 100) -> list[dict[str, Any]]:
        cur = self._db.execute(
            "SELECT seq, kind, doc_id, reason, rejected_at FROM rejected ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [dict(zip(("seq", "kind", "id", "reason", "rejected_at"), row, strict=True))
                for row in cur.fetchall()]

    def rejected_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # One connection is shared by the event loop thread (producers appending) and worker
        # threads (the drainer's done/reject): the lock keeps their transactions from nesting.
        with self._tx_lock, transaction(self._db):
            yield
