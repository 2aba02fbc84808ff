"""The local membership store of flagged values: one SQLite file under the data directory.

It is the authority the matcher confirms every candidate against (exact membership); the
matcher keeps only a compact in-memory pre-filter (sorted 64-bit keys, PDQ bit arrays)
that it rebuilds when ``generation`` changes. The same values live in the index as
``hash`` documents, for search and for the probe's watch list.

Path: ``<data_dir>/hashsets.sqlite`` (setting ``data_dir``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.sqlite import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    list TEXT NOT NULL,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    category TEXT NOT NULL,
    entry TEXT NOT NULL,
    added_at TEXT NOT NULL,
    key INTEGER NOT NULL,
    -- (type, value) first: the matcher's confirmation lookup is a primary-key prefix search.
    PRIMARY KEY (type, value, list)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', 0);
"""


def prefilter_key(type_name: str, value: str) -> int:
    """A signed 64-bit digest of a normalised value: the matcher's in-memory pre-filter key."""
    digest = hashlib.blake2b(f"{type_name}\0{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


@dataclass(frozen=True, slots=True)
class Entry:
    list: str
    type: str
    value: str
    category: str
    entry: str
    added_at: str


@dataclass(frozen=True, slots=True)
class ListSummary:
    list: str
    type: str
    count: int
    added_at: str


class MembershipStore:
    """Flagged values by list; safe for one writer and many readers across processes."""

    def __init__(self, path: Path):
        self.path = path
        self._db = open_database(path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def generation(self) -> int:
        return self._db.execute("SELECT value FROM meta WHERE name='generation'").fetchone()[0]

    def upsert(self, entries: Iterable[Entry]) -> list[Entry]:
        """Add or update entries; returns the new or changed ones (none on a re-import)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DROP TABLE IF EXISTS temp.staged")
            db.execute(
                "CREATE TEMP TABLE staged (list TEXT, type TEXT, value TEXT, category TEXT,"
                " entry TEXT, added_at TEXT, key INTEGER, PRIMARY KEY (type, value, list))"
            )
            db.executemany(
                "INSERT OR REPLACE INTO temp.staged VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        e.list,
                        e.type,
                        e.value,
                        e.category,
                        e.entry,
                        e.added_at,
                        prefilter_key(e.type, e.value),
                    )
                    for e in entries
                ),
            )
            changed = [
                Entry(*row)
                for row in db.execute(
                    "SELECT s.list, s.type, s.value, s.category, s.entry,"
                    " COALESCE(e.added_at, s.added_at)"
                    " FROM temp.staged s LEFT JOIN entries e"
                    " ON e.list = s.list AND e.type = s.type AND e.value = s.value"
                    " WHERE e.value IS NULL OR e.category != s.category OR e.entry != s.entry"
                )
            ]
            if changed:
                db.execute(
                    "INSERT INTO entries SELECT * FROM temp.staged WHERE true"
                    " ON CONFLICT (type, value, list) DO UPDATE SET"
                    " category = excluded.category, entry = excluded.entry"
                )
                db.execute("UPDATE meta SET value = value + 1 WHERE name = 'generation'")
            db.execute("DROP TABLE temp.staged")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    def remove_list(self, name: str) -> list[Entry]:
        """Forget a list; returns its entries (so that their index documents can go too)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            gone = [
                Entry(*row)
                for row in db.execute(
                    "SELECT list, type, value, category, entry, added_at FROM entries"
                    " WHERE list = ?",
                    (name,),
                )
            ]
            if gone:
                db.execute("DELETE FROM entries WHERE list = ?", (name,))
                db.execute("UPDATE meta SET value = value + 1 WHERE name = 'generation'")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return gone

    def lists(self) -> list[ListSummary]:
        return [
            ListSummary(*row)
            for row in self._db.execute(
                "SELECT list, type, COUNT(*), MIN(added_at) FROM entries"
                " GROUP BY list, type ORDER BY list, type"
            )
        ]

    def lookup(self, type_name: str, value: str) -> list[Entry]:
        """Every list entry holding exactly this normalised value."""
        return [
            Entry(*row)
            for row in self._db.execute(
                "SELECT list, type, value, category, entry, added_at FROM entries"
                " WHERE type = ? AND value = ?",
                (type_name, value),
            )
        ]

    def exact_keys(self) -> np.ndarray:
        """Sorted unique pre-filter keys of every non-PDQ value."""
        # Filled chunk by chunk into one array and sorted in place: at ten million values a
        # list of Python ints or np.unique's copies would cost several times the 8 bytes each.
        total = self._db.execute("SELECT COUNT(*) FROM entries WHERE type != 'pdq'").fetchone()[0]
        keys = np.empty(total, dtype=np.int64)
        filled = 0
        cur = self._db.execute("SELECT key FROM entries WHERE type != 'pdq'")
        while (rows := cur.fetchmany(100_000)) and filled < total:
            chunk = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            take = min(len(chunk), total - filled)
            keys[filled:filled + take] = chunk[:take]
            filled += take
        keys = keys[:filled]
        keys.sort()
        if filled > 1 and not (keys[1:] != keys[:-1]).all():
            keys = np.unique(keys)  # the same value on several lists
        return keys

    def pdq_values(self) -> np.ndarray:
        """Distinct PDQ hashes as an (N, 4) uint64 array (the hex value is recoverable)."""
        cur = self._db.execute("SELECT DISTINCT value FROM entries WHERE type = 'pdq'")
        chunks = []
        while rows := cur.fetchmany(100_000):
            raw = bytes.fromhex("".join(row[0] for row in rows))
            chunks.append(np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4))
        return np.concatenate(chunks) if chunks else np.zeros((0, 4), dtype=np.uint64)


def membership_path(data_dir: Path) -> Path:
    return Path(data_dir) / "hashsets.sqlite"
