"""Open the small SQLite databases of an installation the one way they all need.

Autocommit mode (callers open their own ``BEGIN IMMEDIATE`` transactions), WAL so that
readers in other processes never block the writer, a long busy timeout instead of
"database is locked" errors, and a connection usable from the worker threads that
``asyncio.to_thread`` runs.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal


def open_database(
    path: Path, schema: str, *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
) -> sqlite3.Connection:
    """Create the parent directory and the schema if needed; return the open connection.

    ``synchronous="FULL"`` makes a committed transaction survive a power loss, for stores
    whose rows must never be lost once acknowledged (the spool, the alert outbox).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA busy_timeout=60000")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(schema)
    return db
