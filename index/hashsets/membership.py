"""The local membership store of flagged values: one SQLite file under the data directory.

It is the authority the matcher confirms every candidate against (exact membership); the
matcher keeps only a compact in-memory pre-filter (sorted 64-bit keys, PDQ bit arrays)
that it rebuilds when ``generation`` changes. The same values live in the index as
``hash`` documents, for search and for the probe's watch list.

It also keeps what each list is (:class:`~index.hashsets.lists.ListInfo`: kind, source,
trust, own PDQ distance, state), per-list counts of suppressed and held hits, and the flood
quarantine (:mod:`index.hashsets.quarantine`). The schema is versioned (``PRAGMA
user_version``); a store made by an older version is migrated forward when it is opened,
keeping its entries.

Path: ``<data_dir>/hashsets.sqlite`` (setting ``data_dir``).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from documents import iso, utcnow
from errors import StoreTooNew
from index.hashsets.errors import HashSetError
from index.hashsets.lists import ListInfo, ListSettingError, parse_setting
from index.hashsets.quarantine import QUARANTINE_SCHEMA, Quarantine
from index.matching_pdq import pdq_words
from storage.sqlite import open_database, transaction

SCHEMA_VERSION = 1

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
CREATE TABLE IF NOT EXISTS lists (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'flag',
    source TEXT NOT NULL DEFAULT '',
    trust TEXT NOT NULL DEFAULT 'unknown',
    distance INTEGER,
    state TEXT NOT NULL DEFAULT 'active'
) WITHOUT ROWID;
-- suppressed: hits on the list a negative list suppressed; suppressing: hits the negative
-- list suppressed; held: hits held by the flood quarantine.
CREATE TABLE IF NOT EXISTS list_counts (
    list TEXT NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (list, name)
) WITHOUT ROWID;
-- What was counted lately, so that a batch the drain replays is not counted twice.
CREATE TABLE IF NOT EXISTS counted (
    token TEXT PRIMARY KEY, at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counted_at ON counted (at);
""" + QUARANTINE_SCHEMA

_LIST_COLUMNS = "name, kind, source, trust, distance, state"
_ENTRY_COLUMNS = "list, type, value, category, entry, added_at"


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


@dataclass(frozen=True, slots=True)
class ListStats:
    list: str
    suppressed: int = 0  # hits on this list that a negative list suppressed
    suppressing: int = 0  # hits this (negative) list suppressed
    held: int = 0  # hits held while their value was quarantined
    quarantined: int = 0  # values of this list in quarantine now


class MembershipStore:
    """Flagged values by list; safe for one writer and many readers across processes."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._db = open_database(
                path, _SCHEMA, version=SCHEMA_VERSION, migrations={1: _lists_of_entries}
            )
        except StoreTooNew as exc:
            raise HashSetError(str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            raise HashSetError(f"{path}: not a hash-list store: {exc}") from exc
        self.quarantine = Quarantine(self._db, self)

    def close(self) -> None:
        self._db.close()

    def generation(self) -> int:
        return self._db.execute("SELECT value FROM meta WHERE name='generation'").fetchone()[0]

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One IMMEDIATE transaction: committed when the block ends, rolled back if it raises."""
        with transaction(self._db):
            yield

    def _changed(self) -> None:
        """The entries or list settings changed: the matcher reloads (``generation``)."""
        self._db.execute("UPDATE meta SET value = value + 1 WHERE name = 'generation'")

    def upsert(self, entries: Iterable[Entry]) -> list[Entry]:
        """Add or update entries; returns the new or changed ones (none on a re-import)."""
        db = self._db
        with self._write():
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
            db.execute("INSERT OR IGNORE INTO lists (name) SELECT DISTINCT list FROM temp.staged")
            if changed:
                db.execute(
                    "INSERT INTO entries SELECT * FROM temp.staged WHERE true"
                    " ON CONFLICT (type, value, list) DO UPDATE SET"
                    " category = excluded.category, entry = excluded.entry"
                )
                self._changed()
            db.execute("DROP TABLE temp.staged")
        return changed

    def remove_list(self, name: str) -> list[Entry]:
        """Forget a list; returns its entries (so that their index documents can go too)."""
        db = self._db
        with self._write():
            gone = self._entries("list = ?", (name,))
            if gone:
                db.execute("DELETE FROM entries WHERE list = ?", (name,))
                self._changed()
            db.execute("DELETE FROM lists WHERE name = ?", (name,))
            db.execute("DELETE FROM list_counts WHERE list = ?", (name,))
        return gone

    def lists(self) -> list[ListSummary]:
        return [
            ListSummary(*row)
            for row in self._db.execute(
                "SELECT list, type, COUNT(*), MIN(added_at) FROM entries"
                " GROUP BY list, type ORDER BY list, type"
            )
        ]

    def list_info(self, name: str) -> ListInfo:
        """What the list is; the defaults (an active flag list) when it has no settings."""
        row = self._db.execute(
            f"SELECT {_LIST_COLUMNS} FROM lists WHERE name = ?", (name,)
        ).fetchone()
        return ListInfo(*row) if row else ListInfo(name)

    def list_infos(self) -> dict[str, ListInfo]:
        """Every known list by name (those with entries, and those only given settings)."""
        return {
            row[0]: ListInfo(*row)
            for row in self._db.execute(f"SELECT {_LIST_COLUMNS} FROM lists ORDER BY name")
        }

    def set_list(self, name: str, **settings: Any) -> ListInfo:
        """Change a list's settings (kind, source, trust, distance, state).

        Each value is checked (:func:`index.hashsets.lists.parse_setting`: ListSettingError
        names the setting and quotes it). Creates the list's settings row when it has none;
        the matcher reloads (generation).
        """
        if not name:
            raise ListSettingError("a list needs a name")
        settings = {key: parse_setting(key, value) for key, value in settings.items()}
        db = self._db
        with self._write():
            info = self.list_info(name).changed(**settings)
            db.execute(
                f"INSERT OR REPLACE INTO lists ({_LIST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (info.name, info.kind, info.source, info.trust, info.distance, info.state),
            )
            self._changed()
        return info

    def add_negative(
        self,
        list_name: str,
        type_name: str,
        value: str,
        *,
        category: str = "",
        entry: str = "",
        added_at: str = "",
        source: str = "",
    ) -> list[Entry]:
        """Put one normalised value on a negative list; returns the new or changed entries.

        A new list is created as a negative list with ``source``.

        ListSettingError when ``list_name`` is a flag list: a value moved there would flag.
        """
        info = self.list_info(list_name)
        known = self._db.execute("SELECT 1 FROM lists WHERE name = ?", (list_name,)).fetchone()
        if known and not info.negative:
            raise ListSettingError(f"list {list_name!r} is a flag list, not a negative list")
        if not known:
            self.set_list(list_name, kind="negative", source=source)
        when = added_at or _now_iso()
        return self.upsert([Entry(list_name, type_name, value, category, entry, when)])

    def count(self, counts: dict[tuple[str, str], int]) -> None:
        """Add to per-list counts, keyed (list, name): suppressed, suppressing, held."""
        if not counts:
            return
        self._db.executemany(
            "INSERT INTO list_counts VALUES (?, ?, ?)"
            " ON CONFLICT (list, name) DO UPDATE SET n = n + excluded.n",
            [(lst, name, n) for (lst, name), n in counts.items()],
        )

    def count_once(
        self, events: Iterable[tuple[str, str, str]], now: float, *, keep_s: float
    ) -> int:
        """Count (list, name, token) events whose token was not counted within ``keep_s``.

        The token names the event (a document version and a value): a batch the drain
        replays after a crash brings the same tokens and changes no count. Returns how many
        events were new.
        """
        db = self._db
        counts: dict[tuple[str, str], int] = {}
        with self._write():
            for lst, name, token in events:
                new = db.execute(
                    "INSERT OR IGNORE INTO counted VALUES (?, ?)", (f"{lst}|{name}|{token}", now)
                ).rowcount
                if new:
                    counts[(lst, name)] = counts.get((lst, name), 0) + 1
            self.count(counts)
            db.execute("DELETE FROM counted WHERE at < ?", (now - keep_s,))
        return sum(counts.values())

    def stats(self) -> dict[str, ListStats]:
        """Per list: hits suppressed, suppressing and held, and values in quarantine."""
        found: dict[str, dict[str, int]] = {}
        for lst, name, n in self._db.execute("SELECT list, name, n FROM list_counts"):
            found.setdefault(lst, {})[name] = n
        for lst, n in self._db.execute(
            "SELECT e.list, COUNT(*) FROM quarantine q JOIN entries e"
            " ON e.type = q.type AND e.value = q.value GROUP BY e.list"
        ):
            found.setdefault(lst, {})["quarantined"] = n
        return {lst: ListStats(lst, **counts) for lst, counts in sorted(found.items())}

    def remove_value(self, type_name: str, value: str) -> list[Entry]:
        """Drop one value from every list holding it; returns the removed entries."""
        db = self._db
        with self._write():
            gone = self.lookup(type_name, value)
            if gone:
                db.execute(
                    "DELETE FROM entries WHERE type = ? AND value = ?", (type_name, value)
                )
                self._changed()
        return gone

    def lookup(self, type_name: str, value: str) -> list[Entry]:
        """Every list entry holding exactly this normalised value."""
        return self._entries("type = ? AND value = ?", (type_name, value))

    def entries_of_type(self, type_name: str) -> list[Entry]:
        """Every entry of one type (keyword lists are matched by scanning, not by key)."""
        return self._entries("type = ? ORDER BY list, value", (type_name,))

    def entries_of_list(self, name: str) -> list[Entry]:
        """Every entry of one list (what is published to a cluster)."""
        return self._entries("list = ? ORDER BY type, value", (name,))

    def _entries(self, where: str, args: tuple[Any, ...]) -> list[Entry]:
        """The entries selected by ``where`` (an SQL condition, optionally with ORDER BY)."""
        return [
            Entry(*row)
            for row in self._db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE {where}", args
            )
        ]

    def flagging_entries_of_type(self, type_name: str) -> list[Entry]:
        """The entries of one type that can flag: on active lists that are not negative."""
        infos = self.list_infos()
        return [
            e for e in self.entries_of_type(type_name)
            if (info := infos.get(e.list) or ListInfo(e.list)).active and not info.negative
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
            chunks.append(pdq_words(row[0] for row in rows))
        return np.concatenate(chunks) if chunks else np.zeros((0, 4), dtype=np.uint64)


def _lists_of_entries(db: sqlite3.Connection) -> None:
    """Version 0 had entries only: every list becomes an active flag list, as it acted."""
    db.execute("INSERT OR IGNORE INTO lists (name) SELECT DISTINCT list FROM entries")


def _now_iso() -> str:
    return iso(utcnow())


def membership_path(data_dir: Path) -> Path:
    return Path(data_dir) / "hashsets.sqlite"
