"""Open the small SQLite databases of an installation the one way they all need.

Autocommit mode (callers write in :func:`transaction` blocks), WAL so that
readers in other processes never block the writer, a long busy timeout instead of
"database is locked" errors, and a connection usable from the worker threads that
``asyncio.to_thread`` runs.

Every store declares the version of its schema. The version is recorded in the file
(``PRAGMA user_version``); a file of an older version is brought forward when it is opened,
by the store's migrations, in one transaction with the new version number, so a crash
part-way leaves the file as it was and the next open runs the migrations again. A file
whose version is newer than the code is refused with :class:`~errors.StoreTooNew`.
Reads no settings.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from errors import StoreTooNew

# How long a connection waits for another's lock before "database is locked".
BUSY_TIMEOUT_S = 60.0

# A migration brings a store from the version before its key to the version of its key.
Migration = Callable[[sqlite3.Connection], None]


def open_database(
    path: Path,
    schema: str,
    *,
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    version: int = 1,
    migrations: Mapping[int, Migration] | None = None,
) -> sqlite3.Connection:
    """Create the parent directory and the schema if needed; return the open connection.

    ``synchronous="FULL"`` makes a committed transaction survive a power loss, for stores
    whose rows must never be lost once acknowledged (the spool, the alert outbox).

    ``schema`` is the current schema, written idempotently (``CREATE ... IF NOT EXISTS``):
    it makes what a new file lacks. ``migrations[n]`` changes a file of version ``n - 1``
    into version ``n`` (a column added, rows filled in) and runs after ``schema``; a
    version without one only has its number recorded. ``schema`` runs first, so each of its
    statements must also succeed on a file of an older version. A new file is
    stamped with ``version`` and runs no migration. Raises StoreTooNew naming the file and
    both versions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                         check_same_thread=False)
    try:
        _switch_to_wal(db)
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA foreign_keys=ON")
        _refuse_newer(db, path, version)
        _prepare(db, path, schema, version, dict(migrations or {}))
    except BaseException:
        db.close()
        raise
    return db


def _switch_to_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting out other processes doing the same.

    A new file starts in rollback mode, and the switch needs the file to itself: when two
    processes open a new file at once, each holds a shared lock and waits for the other's,
    and SQLite answers one of them "database is locked" at once rather than calling the
    busy handler into a deadlock. That one backs off and tries again."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            # The primary code: extended ones (SQLITE_BUSY_RECOVERY, ...) share its low byte.
            busy = (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _refuse_newer(db: sqlite3.Connection, path: Path, known: int) -> None:
    found = schema_version(db)
    if found > known:
        raise StoreTooNew(path, found, known)


def statements(script: str) -> list[str]:
    """The SQL statements of a script, each whole (a ``;`` in a comment or string stays)."""
    found, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if _has_sql(pending):
                found.append(pending)
            pending = ""
    return found


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One IMMEDIATE transaction: committed when the block ends, rolled back if it raises.

    IMMEDIATE takes the write lock at the start, so two writers (threads or processes) wait
    for each other (busy timeout) instead of one failing at its first write. A connection
    shared by threads needs a lock of its own around the block: transactions do not nest.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _has_sql(text: str) -> bool:
    lines = (line.split("--", 1)[0] for line in text.splitlines())
    return bool("".join(lines).strip(" \t;"))


def _prepare(
    db: sqlite3.Connection, path: Path, schema: str, version: int,
    migrations: dict[int, Migration],
) -> None:
    """Schema, migrations and the new version number in one transaction.

    IMMEDIATE: of two processes opening a new or old file, one prepares it and the other
    then finds it done (a new file is never taken for an old one).
    """
    with transaction(db):
        found = schema_version(db)
        _refuse_newer(db, path, version)
        fresh = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        for statement in statements(schema):
            db.execute(statement)
        if not fresh:
            for step in range(found + 1, version + 1):
                if step in migrations:
                    migrations[step](db)
        if found != version:
            # PRAGMA takes no parameters; the value is an int.
            db.execute(f"PRAGMA user_version = {int(version)}")
