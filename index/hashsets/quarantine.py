"""Flood quarantine: a flagged value that suddenly hits too much is held until an admin decides.

A value (a list entry's type and value) that has more than ``flood_hits`` hits within
``flood_window_s`` seconds (settings ``matching.flood_hits``, ``matching.flood_window_s``,
handed in by the matcher) is quarantined: that hit and every later one is *held*: the
document is kept here as it arrived (without the held match), is neither flagged nor
alerted, and waits. An admin then either releases the value (:meth:`Quarantine.release`:
the held documents go back to the spool and are matched again, now as hits, and the value
is never quarantined again) or removes it (:meth:`Quarantine.remove`: the value leaves its
lists and the held hits are dropped).

A hit is one (value, document version): several fields or lists of one document hitting
the same value count once. Decisions are stored in the membership store's SQLite file in
the same transaction as the hit, so they survive restarts, and a batch the drain replays
after a crash gets the decisions it got the first time (a hit seen before keeps its
outcome). Reads no settings itself.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from documents import KINDS, Document
from documents.base import validate
from errors import InvalidDocument
from storage.sqlite import transaction

log = logging.getLogger(__name__)


class ListMembers(Protocol):
    """What the quarantine needs of the membership store that owns it (no import back)."""

    path: Path

    def count(self, counts: dict[tuple[str, str], int]) -> None: ...

    def remove_value(self, type_name: str, value: str) -> list[Any]: ...

QUARANTINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS flood_hits (
    type TEXT NOT NULL, value TEXT NOT NULL, doc TEXT NOT NULL,
    at REAL NOT NULL, held INTEGER NOT NULL,
    PRIMARY KEY (type, value, doc)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS flood_hits_at ON flood_hits (at);
-- state: held (hits are held) or released (an admin trusts the value: never again).
CREATE TABLE IF NOT EXISTS quarantine (
    type TEXT NOT NULL, value TEXT NOT NULL, since REAL NOT NULL, state TEXT NOT NULL,
    alerted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (type, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS held_docs (
    doc TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS held_hits (
    type TEXT NOT NULL, value TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (type, value, doc)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class FloodHit:
    """One hit of a flagged value by one document version, as the matcher saw it."""

    type: str
    value: str  # the list entry's value (for PDQ: the flagged hash, not the document's)
    doc: Document
    lists: tuple[str, ...]  # the lists whose entries matched

    @property
    def doc_key(self) -> str:
        return doc_key(self.doc)


@dataclass(frozen=True, slots=True)
class QuarantinedValue:
    type: str
    value: str
    since: float  # epoch seconds
    state: str  # held or released
    alerted: bool
    held: int  # hits waiting


def doc_key(doc: Document) -> str:
    """One document version: a later fetch of the same page is another hit."""
    return f"{doc.KIND}/{doc.id}/{getattr(doc, doc.TIME_FIELD, '')}"


class Quarantine:
    """The flood quarantine over the membership store's connection."""

    def __init__(self, db: sqlite3.Connection, members: ListMembers):
        self._db = db
        self._members = members

    def record(
        self, hits: Sequence[FloodHit], now: float, *, flood_hits: int, window_s: float
    ) -> set[tuple[str, str, str]]:
        """Count the hits; returns the (type, value, doc key) of those that are held.

        Quarantines a value on its hit number ``flood_hits + 1`` within ``window_s``.
        """
        held: set[tuple[str, str, str]] = set()
        if not hits:
            return held
        db = self._db
        held_counts: dict[tuple[str, str], int] = {}
        with transaction(db):
            seen: set[tuple[str, str, str]] = set()
            for hit in hits:
                key = (hit.type, hit.value, hit.doc_key)
                if key in seen:
                    continue
                seen.add(key)
                is_held, is_new = self._outcome(hit, key, now, flood_hits, window_s)
                if is_held:
                    held.add(key)
                if is_held and is_new:  # a replayed batch was counted the first time
                    for name in hit.lists:
                        held_counts[(name, "held")] = held_counts.get((name, "held"), 0) + 1
            self._members.count(held_counts)
            db.execute("DELETE FROM flood_hits WHERE at < ?", (now - window_s,))
        return held

    def _outcome(
        self, hit: FloodHit, key: tuple[str, str, str], now: float, limit: int, window_s: float
    ) -> tuple[bool, bool]:
        """(held, first time this hit is seen)."""
        db = self._db
        before = db.execute(
            "SELECT held FROM flood_hits WHERE type = ? AND value = ? AND doc = ?", key
        ).fetchone()
        if before is not None:  # a replayed batch: the decision it got the first time
            return bool(before[0]), False
        state = db.execute(
            "SELECT state FROM quarantine WHERE type = ? AND value = ?", key[:2]
        ).fetchone()
        if state is not None and state[0] == "released":
            db.execute("INSERT INTO flood_hits VALUES (?, ?, ?, ?, 0)", (*key, now))
            return False, True
        if state is None:
            db.execute("INSERT INTO flood_hits VALUES (?, ?, ?, ?, 0)", (*key, now))
            n = db.execute(
                "SELECT COUNT(*) FROM flood_hits WHERE type = ? AND value = ? AND at > ?",
                (*key[:2], now - window_s),
            ).fetchone()[0]
            if n <= limit:
                return False, True
            db.execute(
                "INSERT INTO quarantine VALUES (?, ?, ?, 'held', 0)", (*key[:2], now)
            )
            db.execute("UPDATE flood_hits SET held = 1 WHERE type = ? AND value = ? AND doc = ?",
                       key)
        else:
            db.execute("INSERT INTO flood_hits VALUES (?, ?, ?, ?, 1)", (*key, now))
        body = json.dumps(hit.doc.model_dump(mode="json"), separators=(",", ":"))
        db.execute(
            "INSERT OR REPLACE INTO held_docs VALUES (?, ?, ?)", (key[2], hit.doc.KIND, body)
        )
        db.execute("INSERT OR IGNORE INTO held_hits VALUES (?, ?, ?)", key)
        return True, True

    def entries(self, *, state: str = "held") -> list[QuarantinedValue]:
        """Values in quarantine (``state`` held, released, or "" for both), oldest first."""
        return [
            QuarantinedValue(t, v, since, st, bool(alerted), held)
            for t, v, since, st, alerted, held in self._db.execute(
                "SELECT q.type, q.value, q.since, q.state, q.alerted,"
                " (SELECT COUNT(*) FROM held_hits h WHERE h.type = q.type AND h.value = q.value)"
                " FROM quarantine q WHERE ? = '' OR q.state = ? ORDER BY q.since, q.value",
                (state, state),
            )
        ]

    def unalerted(self) -> list[QuarantinedValue]:
        return [q for q in self.entries() if not q.alerted]

    def mark_alerted(self, values: Iterable[QuarantinedValue]) -> None:
        self._db.executemany(
            "UPDATE quarantine SET alerted = 1 WHERE type = ? AND value = ?",
            [(q.type, q.value) for q in values],
        )

    def release(self, type_name: str, value: str) -> list[Document]:
        """Trust the value from now on; returns its held documents, to be spooled again.

        The caller appends them to the spool: matched again, their hits are hits now.
        """
        db = self._db
        with transaction(db):
            docs = self._take_held(type_name, value)
            db.execute(
                "UPDATE quarantine SET state = 'released' WHERE type = ? AND value = ?",
                (type_name, value),
            )
            # The released documents are matched again: their earlier outcome must not stick.
            db.execute("DELETE FROM flood_hits WHERE type = ? AND value = ?", (type_name, value))
        return docs

    def remove(self, type_name: str, value: str) -> list[Any]:
        """Drop the value from every list holding it and forget its held hits.

        Returns the removed entries (their ``hash`` documents should leave the index).
        """
        db = self._db
        with transaction(db):
            self._take_held(type_name, value)
            for table in ("quarantine", "flood_hits"):
                db.execute(f"DELETE FROM {table} WHERE type = ? AND value = ?", (type_name, value))
        return self._members.remove_value(type_name, value)

    def _take_held(self, type_name: str, value: str) -> list[Document]:
        """Remove the value's held hits; the documents no other held hit still needs."""
        db = self._db
        keys = [
            row[0] for row in db.execute(
                "SELECT doc FROM held_hits WHERE type = ? AND value = ?", (type_name, value)
            )
        ]
        db.execute("DELETE FROM held_hits WHERE type = ? AND value = ?", (type_name, value))
        docs: list[Document] = []
        for key in keys:
            row = db.execute("SELECT kind, body FROM held_docs WHERE doc = ?", (key,)).fetchone()
            if row is None:
                continue
            try:
                docs.append(validate(KINDS[row[0]], json.loads(row[1])))
            except (InvalidDocument, KeyError, ValueError) as exc:
                # Only a body written by an incompatible version: it must not block a release.
                log.error("held document %s cannot be read back, left in %s: %s",
                          key, self._members.path, exc)
                continue
            still = db.execute("SELECT 1 FROM held_hits WHERE doc = ? LIMIT 1", (key,)).fetchone()
            if still is None:
                db.execute("DELETE FROM held_docs WHERE doc = ?", (key,))
        return docs
