"""The analysis store: what the analyse role has read, and the link graph it has built.

One versioned SQLite file under the data directory (``analysis.sqlite``, opened with
:func:`storage.sqlite.open_database`). A batch of documents is recorded in one transaction
together with the cursor, so a crash loses nothing and a rerun does not count a record
twice: ``done`` holds every record read (a service record is its id and ``last_seen``).
``sightings`` is one row per (type, value, member) with first/last seen and the records;
``appearances`` keeps every record of an e-mail or phone (the timelines); ``minhash`` and
``pdq`` the pages' text signatures and image hashes, ``minhash_bands`` the LSH band keys of
the signatures (the candidates of a new page are found here, on disk, in the transaction of
its batch, so a rolled-back batch leaves no key behind; ``meta`` names the band layout the
keys were made with), ``near`` the pairs of near-duplicate pages (``text_near``) and of
pages with near-identical images (``pdq_near``), each page paired with its closest page on
each other member when it arrives; ``members`` each service with its up state and its
cluster;
``clusters`` each cluster id, when it was made and which it was merged into; ``watches`` and
``relaunches`` the relaunch tracking. Reads no settings.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.values import TIMELINE_TYPES, Sighting
from storage.sqlite import open_database, transaction

VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    kind TEXT PRIMARY KEY, at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS done (record TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sightings (
    type TEXT NOT NULL, value TEXT NOT NULL, member TEXT NOT NULL, kind TEXT NOT NULL,
    first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
    first_record TEXT NOT NULL, last_record TEXT NOT NULL,
    PRIMARY KEY (type, value, member)
);
CREATE INDEX IF NOT EXISTS sightings_member ON sightings (member);
CREATE TABLE IF NOT EXISTS appearances (
    type TEXT NOT NULL, value TEXT NOT NULL, record TEXT NOT NULL, member TEXT NOT NULL,
    at_ms INTEGER NOT NULL, lang TEXT NOT NULL, url TEXT NOT NULL,
    PRIMARY KEY (type, value, record)
);
CREATE TABLE IF NOT EXISTS minhash (
    seq INTEGER PRIMARY KEY, record TEXT NOT NULL UNIQUE, member TEXT NOT NULL,
    at_ms INTEGER NOT NULL, sig BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS minhash_bands (
    key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pdq (
    record TEXT NOT NULL, member TEXT NOT NULL, at_ms INTEGER NOT NULL, pdq TEXT NOT NULL,
    PRIMARY KEY (record, pdq)
);
CREATE TABLE IF NOT EXISTS near (
    type TEXT NOT NULL, a_record TEXT NOT NULL, b_record TEXT NOT NULL,
    a_member TEXT NOT NULL, b_member TEXT NOT NULL, a_ms INTEGER NOT NULL,
    b_ms INTEGER NOT NULL, score REAL NOT NULL, PRIMARY KEY (type, a_record, b_record)
);
CREATE INDEX IF NOT EXISTS near_a ON near (a_member);
CREATE INDEX IF NOT EXISTS near_b ON near (b_member);
CREATE TABLE IF NOT EXISTS members (
    member TEXT PRIMARY KEY, kind TEXT NOT NULL, first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL, up INTEGER, up_ms INTEGER, last_up_ms INTEGER, cluster TEXT,
    dirty INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS members_cluster ON members (cluster);
CREATE INDEX IF NOT EXISTS members_dirty ON members (dirty);
CREATE TABLE IF NOT EXISTS clusters (
    cluster TEXT PRIMARY KEY, created_seq INTEGER NOT NULL, merged_into TEXT NOT NULL DEFAULT '',
    digest TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS watches (
    host TEXT PRIMARY KEY, since_ms INTEGER NOT NULL, moved_from TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS relaunches (
    old TEXT NOT NULL, new TEXT NOT NULL, links INTEGER NOT NULL, confidence REAL NOT NULL,
    evidence TEXT NOT NULL, status TEXT NOT NULL, found_ms INTEGER NOT NULL,
    decided_by TEXT NOT NULL DEFAULT '', decided_ms INTEGER,
    alerted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (old, new)
);
"""


def _number_signatures(conn: sqlite3.Connection) -> None:
    """Version 2: signatures get a number for their band keys (the keys are made by the
    analyser, which knows the layout, at its next start)."""
    conn.execute("CREATE TABLE minhash_numbered (seq INTEGER PRIMARY KEY, "
                 "record TEXT NOT NULL UNIQUE, member TEXT NOT NULL, at_ms INTEGER NOT NULL, "
                 "sig BLOB NOT NULL)")
    conn.execute("INSERT INTO minhash_numbered (record, member, at_ms, sig) "
                 "SELECT record, member, at_ms, sig FROM minhash ORDER BY at_ms, record")
    conn.execute("DROP TABLE minhash")
    conn.execute("ALTER TABLE minhash_numbered RENAME TO minhash")


MIGRATIONS = {2: _number_signatures}
# The band layout the kept band keys were made with.
BAND_LAYOUT = "minhash_band_layout"


def analysis_db_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "analysis.sqlite"


@dataclass(frozen=True)
class Relaunch:
    old: str
    new: str
    links: int
    confidence: float
    evidence: list[dict[str, Any]]
    status: str  # candidate, confirmed, rejected
    found_ms: int
    decided_by: str
    decided_ms: int | None


class AnalysisDB:
    def __init__(self, path: Path):
        self.path = path
        self.conn = open_database(path, SCHEMA, synchronous="FULL", version=VERSION,
                                  migrations=MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with transaction(self.conn) as conn:
            yield conn

    # -- reading position --------------------------------------------------------------
    def cursor(self, kind: str) -> int | None:
        row = self.conn.execute("SELECT at_ms FROM cursor WHERE kind = ?", (kind,)).fetchone()
        return int(row[0]) if row else None

    def cursors(self) -> dict[str, int]:
        """Each kind's reading position (the newest document time analysed, epoch ms)."""
        return {r[0]: int(r[1]) for r in self.conn.execute("SELECT kind, at_ms FROM cursor")}

    def relaunch_counts(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.conn.execute(
            "SELECT status, count(*) FROM relaunches GROUP BY status")}

    def is_done(self, record: str) -> bool:
        return self.conn.execute("SELECT 1 FROM done WHERE record = ?", (record,)).fetchone() \
            is not None

    # -- writes, inside a transaction --------------------------------------------------
    @staticmethod
    def set_cursor(conn: sqlite3.Connection, kind: str, at_ms: int) -> None:
        conn.execute(
            "INSERT INTO cursor VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET "
            "at_ms = max(at_ms, excluded.at_ms)", (kind, at_ms))

    @staticmethod
    def mark_done(conn: sqlite3.Connection, record: str) -> None:
        conn.execute("INSERT OR IGNORE INTO done VALUES (?)", (record,))

    @staticmethod
    def touch_member(conn: sqlite3.Connection, member: str, kind: str, at_ms: int,
                     up: bool | None = None, last_up_ms: int | None = None,
                     first_ms: int | None = None) -> None:
        """Seen at ``at_ms`` (first seen ``first_ms``, default the same); ``up`` is the state
        a check found at ``at_ms`` and counts when no later state is known."""
        conn.execute(
            "INSERT INTO members (member, kind, first_ms, last_ms, up, up_ms, last_up_ms, "
            "dirty) VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (member) DO UPDATE SET "
            "first_ms = min(first_ms, excluded.first_ms), "
            "last_ms = max(last_ms, excluded.last_ms), "
            "up = CASE WHEN excluded.up IS NULL THEN up "
            "  WHEN excluded.up_ms >= coalesce(up_ms, 0) THEN excluded.up ELSE up END, "
            "up_ms = CASE WHEN excluded.up IS NULL THEN up_ms "
            "  ELSE max(coalesce(up_ms, 0), excluded.up_ms) END, "
            "last_up_ms = CASE WHEN excluded.last_up_ms IS NULL THEN last_up_ms "
            "  ELSE max(coalesce(last_up_ms, 0), excluded.last_up_ms) END, dirty = 1",
            (member, kind, at_ms if first_ms is None else min(first_ms, at_ms), at_ms,
             None if up is None else int(up), None if up is None else at_ms, last_up_ms))

    @staticmethod
    def add_sightings(conn: sqlite3.Connection, sightings: Iterable[Sighting]) -> None:
        for s in sightings:
            known = conn.execute(
                "SELECT 1 FROM sightings WHERE type = ? AND value = ? AND member = ?",
                (s.type, s.value, s.member)).fetchone() is not None
            conn.execute(
                "INSERT INTO sightings VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (type, value, member) DO UPDATE SET "
                "first_record = CASE WHEN excluded.first_ms < first_ms "
                "  THEN excluded.first_record ELSE first_record END, "
                "last_record = CASE WHEN excluded.last_ms > last_ms "
                "  THEN excluded.last_record ELSE last_record END, "
                "first_ms = min(first_ms, excluded.first_ms), "
                "last_ms = max(last_ms, excluded.last_ms)",
                (s.type, s.value, s.member, s.kind, s.at_ms, s.at_ms, s.record, s.record))
            if s.type in TIMELINE_TYPES:
                conn.execute(
                    "INSERT OR IGNORE INTO appearances VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (s.type, s.value, s.record, s.member, s.at_ms, s.lang, s.url))
            if not known:
                # A value new to this member: every other carrier may now join its cluster.
                conn.execute("UPDATE members SET dirty = 1 WHERE member IN "
                             "(SELECT member FROM sightings WHERE type = ? AND value = ?)",
                             (s.type, s.value))

    @staticmethod
    def keep_minhash(conn: sqlite3.Connection, record: str, member: str, at_ms: int,
                     sig: bytes, keys: list[int]) -> list[tuple[str, str, int, bytes]]:
        """Keep a page's text signature and band keys (nothing if the page has them already);
        returns (record, member, at_ms, signature) of the other pages that shared a band key
        with it before."""
        candidates = [c for c in AnalysisDB.minhash_candidates(conn, keys) if c[0] != record]
        added = conn.execute(
            "INSERT OR IGNORE INTO minhash (record, member, at_ms, sig) VALUES (?, ?, ?, ?)",
            (record, member, at_ms, sig))
        if added.rowcount == 1:
            _band(conn, added.lastrowid, keys)
        return candidates

    @staticmethod
    def minhash_candidates(conn: sqlite3.Connection,
                           keys: list[int]) -> list[tuple[str, str, int, bytes]]:
        """(record, member, at_ms, signature) of every page sharing a band key."""
        marks = ",".join("?" * len(keys))
        return [(r[0], r[1], int(r[2]), r[3]) for r in conn.execute(
            "SELECT record, member, at_ms, sig FROM minhash WHERE seq IN "
            f"(SELECT seq FROM minhash_bands WHERE key IN ({marks}))", keys)]

    def band_layout(self) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE name = ?",
                                (BAND_LAYOUT,)).fetchone()
        return str(row[0]) if row else ""

    def rebuild_bands(self, layout: str, keys_of: Callable[[bytes], list[int] | None],
                      chunk: int = 10_000) -> int:
        """Every kept signature's band keys made again for ``layout`` (one transaction);
        ``keys_of`` gives None for a signature the layout cannot band. Returns how many."""
        banded, after = 0, 0
        with self.transaction() as conn:
            conn.execute("DELETE FROM minhash_bands")
            while True:
                rows = conn.execute("SELECT seq, sig FROM minhash WHERE seq > ? ORDER BY seq "
                                    "LIMIT ?", (after, chunk)).fetchall()
                if not rows:
                    break
                for seq, sig in rows:
                    keys = keys_of(sig)
                    if keys is not None:
                        _band(conn, seq, keys)
                        banded += 1
                after = rows[-1][0]
            conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
                         "value = excluded.value", (BAND_LAYOUT, layout))
        return banded

    @staticmethod
    def add_pdq(conn: sqlite3.Connection, record: str, member: str, at_ms: int,
                pdq: str) -> bool:
        """True if the page's image hash is new to the store."""
        return conn.execute("INSERT OR IGNORE INTO pdq VALUES (?, ?, ?, ?)",
                            (record, member, at_ms, pdq)).rowcount == 1

    @staticmethod
    def add_near(conn: sqlite3.Connection, type_: str, a: tuple[str, str, int],
                 b: tuple[str, str, int], score: float) -> None:
        """A pair of records near each other (``text_near``: Jaccard; ``pdq_near``: the
        Hamming distance of their closest images)."""
        (a, b) = sorted((a, b))
        conn.execute("INSERT OR IGNORE INTO near VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (type_, a[0], b[0], a[1], b[1], a[2], b[2], score))
        conn.execute("UPDATE members SET dirty = 1 WHERE member IN (?, ?)", (a[1], b[1]))

    # -- graph reads -------------------------------------------------------------------
    def pdqs(self) -> Iterator[tuple[str, str]]:
        yield from self.conn.execute("SELECT record, pdq FROM pdq")

    def pdq_member(self, record: str) -> tuple[str, int] | None:
        row = self.conn.execute("SELECT member, at_ms FROM pdq WHERE record = ? LIMIT 1",
                                (record,)).fetchone()
        return (row[0], int(row[1])) if row else None

    def values_of(self, member: str) -> list[tuple[str, str]]:
        return [(t, v) for t, v in self.conn.execute(
            "SELECT type, value FROM sightings WHERE member = ?", (member,))]

    def carriers(self, type_: str, value: str,
                 limit: int = -1) -> list[tuple[str, int, int, str, str]]:
        """(member, first_ms, last_ms, first_record, last_record) of the carriers, oldest
        first; at most ``limit`` (-1: all)."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT member, first_ms, last_ms, first_record, last_record FROM sightings "
            "WHERE type = ? AND value = ? ORDER BY first_ms, member LIMIT ?",
            (type_, value, limit))]

    def near_of(self, member: str) -> list[tuple[str, str, str, str, str, int, int, float]]:
        """(type, a_record, b_record, a_member, b_member, a_ms, b_ms, score) of the near
        pairs touching ``member``."""
        columns = "type, a_record, b_record, a_member, b_member, a_ms, b_ms, score"
        return [tuple(r) for r in self.conn.execute(
            f"SELECT {columns} FROM near WHERE a_member = ? UNION "
            f"SELECT {columns} FROM near WHERE b_member = ? ORDER BY 1, 2, 3",
            (member, member))]

    def member(self, member: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT member, kind, first_ms, last_ms, up, last_up_ms, cluster FROM members "
            "WHERE member = ?", (member,)).fetchone()
        if row is None:
            return None
        keys = ("member", "kind", "first_ms", "last_ms", "up", "last_up_ms", "cluster")
        return dict(zip(keys, row, strict=True))

    def dirty_members(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT member FROM members WHERE dirty = 1 ORDER BY first_ms, member")]

    def cluster_members(self, cluster: str) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT member FROM members WHERE cluster = ? ORDER BY member", (cluster,))]

    def cluster_seq(self, cluster: str) -> int | None:
        row = self.conn.execute(
            "SELECT created_seq FROM clusters WHERE cluster = ? AND merged_into = ''",
            (cluster,)).fetchone()
        return int(row[0]) if row else None

    def cluster_digest(self, cluster: str) -> str:
        """The digest of the cluster's document as last written ('' if none)."""
        row = self.conn.execute("SELECT digest FROM clusters WHERE cluster = ?",
                                (cluster,)).fetchone()
        return str(row[0]) if row else ""

    def next_cluster_seq(self) -> int:
        return int(self.conn.execute(
            "SELECT coalesce(max(created_seq), 0) + 1 FROM clusters").fetchone()[0])

    # -- timelines ---------------------------------------------------------------------
    def appearances(self, value: str) -> list[dict[str, Any]]:
        keys = ("type", "value", "record", "member", "at_ms", "lang", "url")
        return [dict(zip(keys, r, strict=True)) for r in self.conn.execute(
            "SELECT type, value, record, member, at_ms, lang, url FROM appearances "
            "WHERE value = ? ORDER BY at_ms, member, record", (value,))]

    # -- watches and relaunches --------------------------------------------------------
    def watch(self, host: str, since_ms: int, moved_from: str = "") -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO watches VALUES (?, ?, ?)",
                         (host, since_ms, moved_from))

    def unwatch(self, host: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM watches WHERE host = ?", (host,)).rowcount > 0

    def watches(self) -> list[tuple[str, int, str]]:
        return [tuple(r) for r in self.conn.execute(
            "SELECT host, since_ms, moved_from FROM watches ORDER BY host")]

    def relaunch(self, old: str, new: str) -> Relaunch | None:
        rows = self._relaunches("WHERE old = ? AND new = ?", (old, new))
        return rows[0] if rows else None

    def relaunches(self, status: str = "") -> list[Relaunch]:
        if status:
            return self._relaunches("WHERE status = ? ORDER BY found_ms, old, new", (status,))
        return self._relaunches("ORDER BY found_ms, old, new", ())

    def _relaunches(self, where: str, args: tuple[Any, ...]) -> list[Relaunch]:
        rows = self.conn.execute(
            "SELECT old, new, links, confidence, evidence, status, found_ms, decided_by, "
            f"decided_ms FROM relaunches {where}", args)
        return [Relaunch(r[0], r[1], int(r[2]), float(r[3]), json.loads(r[4]), r[5],
                         int(r[6]), r[7], r[8]) for r in rows]

    def add_relaunch(self, r: Relaunch) -> bool:
        with self.transaction() as conn:
            return conn.execute(
                "INSERT OR IGNORE INTO relaunches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (r.old, r.new, r.links, r.confidence, json.dumps(r.evidence), r.status,
                 r.found_ms, r.decided_by, r.decided_ms)).rowcount > 0

    def unalerted(self) -> list[Relaunch]:
        return self._relaunches("WHERE alerted = 0 ORDER BY found_ms, old, new", ())

    def mark_alerted(self, relaunches: Iterable[Relaunch]) -> None:
        with self.transaction() as conn:
            conn.executemany("UPDATE relaunches SET alerted = 1 WHERE old = ? AND new = ?",
                             [(r.old, r.new) for r in relaunches])

    def decide_relaunch(self, old: str, new: str, status: str, by: str, at_ms: int) -> bool:
        """Confirm (the watch moves from ``old`` to ``new``) or reject a candidate."""
        with self.transaction() as conn:
            changed = conn.execute(
                "UPDATE relaunches SET status = ?, decided_by = ?, decided_ms = ? "
                "WHERE old = ? AND new = ? AND status = 'candidate'",
                (status, by, at_ms, old, new)).rowcount > 0
            if changed and status == "confirmed":
                watched = conn.execute("DELETE FROM watches WHERE host = ?", (old,)).rowcount
                if watched:
                    conn.execute("INSERT OR IGNORE INTO watches VALUES (?, ?, ?)",
                                 (new, at_ms, old))
            return changed

    def followed(self, host: str) -> str:
        """Where ``host`` lives now: the end of its chain of confirmed relaunches."""
        seen = {host}
        while True:
            row = self.conn.execute(
                "SELECT new FROM relaunches WHERE old = ? AND status = 'confirmed' "
                "ORDER BY decided_ms DESC LIMIT 1", (host,)).fetchone()
            if row is None or row[0] in seen:
                return host
            host = row[0]
            seen.add(host)


def _band(conn: sqlite3.Connection, seq: int | None, keys: Iterable[int]) -> None:
    """Index a kept signature (its ``seq``) under each of its band keys."""
    conn.executemany("INSERT OR IGNORE INTO minhash_bands VALUES (?, ?)",
                     [(key, seq) for key in keys])
