"""How far each hunt got in each document kind: the cursor after the last finished batch.

One row per (hunt, kind) in ``hunt.sqlite`` under the data directory (a versioned store,
:func:`storage.sqlite.open_database`): the search cursor of the last batch whose alerts
were recorded and whose documents were spooled, the documents scanned and the hits found
so far, and whether the kind is done. A hunt killed mid-batch starts again after the last
recorded batch; the batch in hand is done again, which the alert store's dedup makes
harmless. A hunt's key names its list or rule and a fingerprint of its content, so an
updated list is a new hunt. Reads no settings; the caller passes the path.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.sqlite import open_database

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    hunt TEXT NOT NULL,
    kind TEXT NOT NULL,
    cursor TEXT,
    scanned INTEGER NOT NULL DEFAULT 0,
    hits INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (hunt, kind)
) WITHOUT ROWID;
"""


def checkpoint_path(data_dir: Path) -> Path:
    return Path(data_dir) / "hunt.sqlite"


@dataclass(frozen=True)
class KindProgress:
    kind: str
    cursor: tuple[Any, ...] | None = None
    scanned: int = 0
    hits: int = 0
    done: bool = False


class Checkpoints:
    """The progress of every hunt; one writer (the hunt), readers anywhere."""

    def __init__(self, path: Path):
        self.path = path
        self._db = open_database(path, _SCHEMA, synchronous="FULL", version=SCHEMA_VERSION)

    def close(self) -> None:
        self._db.close()

    def get(self, hunt: str, kind: str) -> KindProgress:
        row = self._db.execute(
            "SELECT cursor, scanned, hits, done FROM progress WHERE hunt = ? AND kind = ?",
            (hunt, kind),
        ).fetchone()
        if row is None:
            return KindProgress(kind)
        cursor = tuple(json.loads(row[0])) if row[0] else None
        return KindProgress(kind, cursor, row[1], row[2], bool(row[3]))

    def known(self, hunt: str) -> list[KindProgress]:
        kinds = [r[0] for r in self._db.execute(
            "SELECT kind FROM progress WHERE hunt = ? ORDER BY kind", (hunt,))]
        return [self.get(hunt, k) for k in kinds]

    def advance(self, hunt: str, kind: str, cursor: tuple[Any, ...], scanned: int,
                hits: int) -> None:
        """Record a finished batch: the cursor after it and what it added."""
        now = time.time()
        self._db.execute(
            "INSERT INTO progress (hunt, kind, cursor, scanned, hits, started_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hunt, kind) DO UPDATE SET"
            " cursor = excluded.cursor, scanned = scanned + excluded.scanned,"
            " hits = hits + excluded.hits, updated_at = excluded.updated_at",
            (hunt, kind, json.dumps(list(cursor)), scanned, hits, now, now),
        )

    def finish(self, hunt: str, kind: str) -> None:
        now = time.time()
        self._db.execute(
            "INSERT INTO progress (hunt, kind, done, started_at, updated_at)"
            " VALUES (?, ?, 1, ?, ?) ON CONFLICT (hunt, kind) DO UPDATE SET done = 1,"
            " updated_at = excluded.updated_at",
            (hunt, kind, now, now),
        )

    def forget(self, hunt: str) -> int:
        """Drop a hunt's progress (to hunt again from the start); returns the rows dropped."""
        return self._db.execute("DELETE FROM progress WHERE hunt = ?", (hunt,)).rowcount
