"""The frontier in one SQLite file: for crawlers on one machine.

Three tables in the given database (the job's ``job.sqlite``, or
``<data_dir>/frontier.sqlite`` for a frontier shared by jobs): ``frontier`` holds one row per
canonical URL with its state and ``due`` (when it may be leased; for a leased row, when its
lease runs out); ``frontier_hosts`` one row per host with its counts, its turn in the round
robin, ``next_due`` (the earliest due time of its queued URLs that were not yet due when the
host was last ranked) and the time before which it is not served (``defer_host``);
``frontier_holders`` the crawler each host is with (``frontier.host_affinity_s``);
``frontier_workers`` until when each crawler counts as alive (a lease's time after its last
lease or renewal); and
``frontier_ready`` the hosts with URLs due, ranked by the priority of their best due URL,
then by turn, so the best class of URLs (new, then changed, then stale) is leased first
across all hosts and hosts take turns within it. A host is ranked again whenever its queue
changes and when its ``next_due`` comes. Every operation is one ``BEGIN IMMEDIATE``
transaction, so several processes on one file never lease the same URL, and a committed
write survives a kill.
Memory is a few rows per call whatever the queue size. Reads ``[frontier]`` through the
constructor; the clock is the local one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from config.sections.frontier import FrontierSettings
from crawler.frontier.store import (
    Admitted,
    FrontierCounts,
    FrontierStore,
    FrontierUnavailable,
    HostState,
    Leased,
    Outcome,
)
from storage.sqlite import open_database, transaction

QUEUED, LEASED, DONE, FAILED = 0, 1, 2, 3
_COUNTER = {QUEUED: "queued", LEASED: "leased", DONE: "done", FAILED: "failed"}
NEVER = 1e300  # next_due of a host with nothing queued

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frontier (
    key TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    depth INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    callback TEXT,
    errback TEXT,
    state INTEGER NOT NULL,
    due REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT
);
CREATE INDEX IF NOT EXISTS frontier_next ON frontier (host, state, priority DESC);
CREATE INDEX IF NOT EXISTS frontier_host_due ON frontier (host, state, due);
CREATE INDEX IF NOT EXISTS frontier_due ON frontier (state, due);
CREATE TABLE IF NOT EXISTS frontier_hosts (
    host TEXT PRIMARY KEY,
    admitted INTEGER NOT NULL DEFAULT 0,
    queued INTEGER NOT NULL DEFAULT 0,
    leased INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    turn INTEGER NOT NULL DEFAULT 0,
    next_due REAL NOT NULL DEFAULT 1e300,
    not_before REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS frontier_hosts_turn ON frontier_hosts (turn);
DROP INDEX IF EXISTS frontier_hosts_ready;
CREATE INDEX IF NOT EXISTS frontier_hosts_wake ON frontier_hosts (next_due);
CREATE TABLE IF NOT EXISTS frontier_ready (
    host TEXT PRIMARY KEY,
    top INTEGER NOT NULL,
    turn INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS frontier_ready_rank ON frontier_ready (top DESC, turn);
CREATE TABLE IF NOT EXISTS frontier_holders (
    host TEXT PRIMARY KEY,
    worker TEXT NOT NULL,
    until REAL NOT NULL
);
-- A crawler is alive for a lease's time after each lease or renewal: the hosts held by one
-- that is not are free.
CREATE TABLE IF NOT EXISTS frontier_workers (
    worker TEXT PRIMARY KEY,
    alive_until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS frontier_uptime_only (host TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS frontier_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_BEST_DUE = (
    # The (host, state, priority) index walks the queue in order; the due index would sort
    # every due row of a big host.
    "SELECT {} FROM frontier INDEXED BY frontier_next"
    " WHERE host = ? AND state = 0 AND due <= ? ORDER BY priority DESC, rowid LIMIT 1")
_COLUMNS = "key, url, host, depth, priority, callback, errback, attempts"


class SqliteFrontierStore(FrontierStore):
    def __init__(self, path: Path, options: FrontierSettings, *, host_cap: int,
                 host_concurrency: int, clock: Callable[[], float] = time.time):
        super().__init__(options, host_cap=host_cap, host_concurrency=host_concurrency)
        self.path = path
        self.clock = clock
        try:
            self._db = open_database(path, _SCHEMA, version=1)
        except sqlite3.Error as exc:
            raise FrontierUnavailable(f"frontier database {str(path)!r}: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            with transaction(self._db) as db:
                yield db
        except sqlite3.Error as exc:
            raise FrontierUnavailable(f"frontier database {str(self.path)!r}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def _push(self, items: list[Admitted], lease_to: str | None) -> list[Outcome]:
        now = self.clock()
        leased = lease_to is not None
        out: list[Outcome] = []
        with self._tx() as db:
            # Per host in this call: admitted before, added now, earliest due added.
            hosts: dict[str, list[float]] = {}
            for a in items:
                if a.host not in hosts:
                    db.execute("INSERT OR IGNORE INTO frontier_hosts (host) VALUES (?)", (a.host,))
                    row = db.execute("SELECT admitted FROM frontier_hosts WHERE host = ?",
                                     (a.host,)).fetchone()
                    hosts[a.host] = [int(row[0]), 0, NEVER]
                counts = hosts[a.host]
                if counts[0] + counts[1] >= self.host_cap:
                    known = db.execute("SELECT 1 FROM frontier WHERE key = ?", (a.key,)).fetchone()
                    out.append(Outcome.DUPLICATE if known else Outcome.HOST_CAP)
                    continue
                item = a.item
                due = now + (self.options.lease_s if leased else max(item.delay_s, 0.0))
                added = db.execute(
                    f"INSERT OR IGNORE INTO frontier ({_COLUMNS}, state, due, worker)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                    (a.key, a.url, a.host, item.depth, item.priority, item.callback,
                     item.errback, LEASED if leased else QUEUED, due, lease_to)).rowcount
                if not added:
                    out.append(Outcome.DUPLICATE)
                    continue
                counts[1] += 1
                counts[2] = min(counts[2], due)
                out.append(Outcome.ADDED)
            for host, (_, added, due) in hosts.items():
                if not added:
                    continue
                if leased:
                    db.execute("UPDATE frontier_hosts SET admitted = admitted + ?,"
                               " leased = leased + ? WHERE host = ?", (added, added, host))
                else:
                    db.execute("UPDATE frontier_hosts SET admitted = admitted + ?,"
                               " queued = queued + ? WHERE host = ?", (added, added, host))
                    self._queued(db, host, due, now)
        return out

    def _rank(self, db: sqlite3.Connection, host: str, now: float, *, wake: bool = True) -> None:
        """Rank ``host`` by its best URL due at ``now`` (out of the ranking with none), and
        (``wake``) note when its next URL comes due; a lease leaves that time as it was."""
        top = db.execute(_BEST_DUE.format("priority"), (host, now)).fetchone()
        if top is None:
            db.execute("DELETE FROM frontier_ready WHERE host = ?", (host,))
        else:
            db.execute("INSERT INTO frontier_ready (host, top, turn) SELECT host, ?, turn"
                       " FROM frontier_hosts WHERE host = ? ON CONFLICT (host) DO UPDATE"
                       " SET top = excluded.top, turn = excluded.turn", (top[0], host))
        if not wake:
            return
        db.execute("UPDATE frontier_hosts SET next_due = COALESCE((SELECT MIN(due) FROM"
                   " frontier WHERE host = :host AND state = 0 AND due > :now), 1e300)"
                   " WHERE host = :host", {"host": host, "now": now})

    def _queued(self, db: sqlite3.Connection, host: str, due: float, now: float) -> None:
        """A URL of ``host`` was queued, due at ``due``."""
        if due <= now:
            self._rank(db, host, now)
        else:
            db.execute("UPDATE frontier_hosts SET next_due = MIN(next_due, ?) WHERE host = ?",
                       (due, host))

    def _requeue(self, db: sqlite3.Connection, key: str, host: str, due: float,
                 counter: str, now: float) -> None:
        """A leased row goes back to the queue; ``counter`` is the host count it leaves."""
        db.execute("UPDATE frontier SET state = 0, due = ?, worker = NULL WHERE key = ?",
                   (due, key))
        db.execute(f"UPDATE frontier_hosts SET {counter} = {counter} - 1, queued = queued + 1"
                   " WHERE host = ?", (host,))
        self._queued(db, host, due, now)

    def _reap(self, db: sqlite3.Connection, now: float) -> None:
        expired = db.execute("SELECT key, host FROM frontier WHERE state = 1 AND due < ?",
                             (now,)).fetchall()
        for key, host in expired:
            self._requeue(db, key, host, now, "leased", now)
            # The host's crawler is gone or stuck: any crawler may take the host now.
            db.execute("DELETE FROM frontier_holders WHERE host = ?", (host,))

    def lease(self, worker: str, n: int) -> list[Leased]:
        out: list[Leased] = []
        with self._tx() as db:
            now = self.clock()
            self._reap(db, now)
            for (host,) in db.execute("SELECT host FROM frontier_hosts INDEXED BY"
                                      " frontier_hosts_wake WHERE next_due <= ?",
                                      (now,)).fetchall():
                self._rank(db, host, now)
            turn = int(db.execute("SELECT COALESCE(MAX(turn), 0) FROM frontier_hosts")
                       .fetchone()[0])
            # One URL of the best-ranked host at a time: that host goes to the back of its
            # class (its turn), so hosts take turns within the best class there is.
            affinity = self.options.host_affinity_s
            self._alive(db, worker, now)
            while len(out) < n:
                best = db.execute(
                    "SELECT r.host FROM frontier_ready AS r INDEXED BY frontier_ready_rank"
                    " CROSS JOIN frontier_hosts AS h ON h.host = r.host"
                    " WHERE h.leased < :cap AND h.not_before <= :now AND (:affinity <= 0"
                    " OR NOT EXISTS (SELECT 1 FROM frontier_holders AS x WHERE x.host = r.host"
                    " AND x.worker != :worker AND (x.until > :now OR h.leased > 0)"
                    " AND EXISTS (SELECT 1 FROM frontier_workers AS w WHERE w.worker = x.worker"
                    " AND w.alive_until > :now)))"
                    " ORDER BY r.top DESC, r.turn LIMIT 1",
                    {"cap": self.host_concurrency, "now": now, "affinity": affinity,
                     "worker": worker}).fetchone()
                if best is None:
                    break
                host = best[0]
                row = db.execute(_BEST_DUE.format(_COLUMNS), (host, now)).fetchone()
                turn += 1
                if row is not None:
                    db.execute("UPDATE frontier SET state = 1, due = ?, worker = ?"
                               " WHERE key = ?", (now + self.options.lease_s, worker, row[0]))
                    out.append(Leased(*row))
                    if affinity > 0:
                        db.execute("INSERT OR REPLACE INTO frontier_holders (host, worker, until)"
                                   " VALUES (?, ?, ?)", (host, worker, now + affinity))
                db.execute(
                    "UPDATE frontier_hosts SET queued = queued - :took,"
                    " leased = leased + :took, turn = :turn WHERE host = :host",
                    {"took": int(row is not None), "turn": turn, "host": host})
                self._rank(db, host, now, wake=False)
        return out

    def renew(self, worker: str, keys: Iterable[str]) -> int:
        keys = list(keys)
        with self._tx() as db:
            now = self.clock()
            self._alive(db, worker, now)
            due = now + self.options.lease_s
            return sum(db.execute("UPDATE frontier SET due = ? WHERE key = ? AND state = 1"
                                  " AND worker = ?", (due, key, worker)).rowcount for key in keys)

    def _alive(self, db: sqlite3.Connection, worker: str, now: float) -> None:
        db.execute("INSERT OR REPLACE INTO frontier_workers (worker, alive_until) VALUES (?, ?)",
                   (worker, now + self.options.lease_s))

    def _row(self, db: sqlite3.Connection, key: str) -> tuple[str, int, str | None, int] | None:
        return db.execute("SELECT host, state, worker, attempts FROM frontier WHERE key = ?",
                          (key,)).fetchone()

    def ack(self, worker: str, keys: Iterable[str], *, refetch_after_s: float | None = None,
            priority: int | None = None) -> int:
        keys = list(keys)
        changed = 0
        with self._tx() as db:
            now = self.clock()
            for key in keys:
                row = self._row(db, key)
                if row is None:
                    continue
                host, state, _, _ = row
                if refetch_after_s is None and state == DONE:
                    continue
                left = _COUNTER[state]
                if refetch_after_s is None:
                    db.execute("UPDATE frontier SET state = 2, worker = NULL, attempts = 0"
                               " WHERE key = ?", (key,))
                    db.execute(f"UPDATE frontier_hosts SET {left} = {left} - 1,"
                               " done = done + 1 WHERE host = ?", (host,))
                else:
                    db.execute("UPDATE frontier SET attempts = 0,"
                               " priority = COALESCE(?, priority) WHERE key = ?", (priority, key))
                    self._requeue(db, key, host, now + max(refetch_after_s, 0.0), left, now)
                if state == QUEUED:
                    self._rank(db, host, now)
                changed += 1
        return changed

    def nack(self, worker: str, key: str, *, delay_s: float | None = None) -> bool:
        with self._tx() as db:
            row = self._row(db, key)
            if row is None or row[1] != LEASED or row[2] != worker:
                return False
            host, _, _, attempts = row
            attempts += 1
            db.execute("UPDATE frontier SET attempts = ? WHERE key = ?", (attempts, key))
            if attempts >= self.options.max_attempts:
                db.execute("UPDATE frontier SET state = 3, worker = NULL WHERE key = ?", (key,))
                db.execute("UPDATE frontier_hosts SET leased = leased - 1, failed = failed + 1"
                           " WHERE host = ?", (host,))
            else:
                wait = self.backoff_s(attempts) if delay_s is None else max(delay_s, 0.0)
                now = self.clock()
                self._requeue(db, key, host, now + wait, "leased", now)
        return True

    def release(self, worker: str, keys: Iterable[str] | None = None) -> int:
        with self._tx() as db:
            now = self.clock()
            if keys is None:
                rows = db.execute("SELECT key, host FROM frontier WHERE state = 1 AND worker = ?",
                                  (worker,)).fetchall()
            else:
                rows = []
                for key in keys:
                    row = self._row(db, key)
                    if row is not None and row[1] == LEASED and row[2] == worker:
                        rows.append((key, row[0]))
            for key, host in rows:
                self._requeue(db, key, host, now, "leased", now)
                db.execute("DELETE FROM frontier_holders WHERE host = ? AND worker = ?",
                           (host, worker))
        return len(rows)

    def defer_host(self, host: str, delay_s: float) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO frontier_hosts (host) VALUES (?)", (host,))
            db.execute("UPDATE frontier_hosts SET not_before = MAX(not_before, ?) WHERE host = ?",
                       (self.clock() + max(delay_s, 0.0), host))

    def set_uptime_only(self, hosts: Iterable[str]) -> None:
        rows = [(h,) for h in set(hosts)]
        with self._tx() as db:
            db.execute("DELETE FROM frontier_uptime_only")
            db.executemany("INSERT INTO frontier_uptime_only (host) VALUES (?)", rows)
            db.execute("INSERT INTO frontier_meta (name, value) VALUES ('uptime_only', 1)"
                       " ON CONFLICT (name) DO UPDATE SET value = value + 1")

    def uptime_only_version(self) -> int:
        rows = self._read("SELECT value FROM frontier_meta WHERE name = 'uptime_only'")
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def uptime_only_hosts(self) -> frozenset[str]:
        return frozenset(str(r[0]) for r in self._read("SELECT host FROM frontier_uptime_only"))

    def holders(self) -> list[str]:
        return [r[0] for r in self._read(
            "SELECT DISTINCT worker FROM frontier WHERE state = 1 ORDER BY worker")]

    def pending(self, exclude: str | None = None) -> int:
        now = self.clock()
        due = self._read("SELECT COUNT(*) FROM frontier WHERE state = 0 AND due <= ?", (now,))
        leased = self._read("SELECT COUNT(*) FROM frontier WHERE state = 1"
                            " AND worker IS NOT ?", (exclude,))
        return int(due[0][0]) + int(leased[0][0])

    def has_work(self, exclude: str | None = None) -> bool:
        # EXISTS stops at the first row; COUNT would walk every due row of a big queue.
        row = self._read(
            "SELECT EXISTS (SELECT 1 FROM frontier WHERE state = 0 AND due <= ?)"
            " OR EXISTS (SELECT 1 FROM frontier WHERE state = 1 AND worker IS NOT ?)",
            (self.clock(), exclude))
        return bool(row[0][0])

    def is_known(self, url: str) -> bool:
        return bool(self._read("SELECT 1 FROM frontier WHERE key = ?", (self.key_of(url),)))

    def host(self, host: str) -> HostState:
        rows = self._read("SELECT host, admitted, queued, leased, done, failed, not_before"
                          " FROM frontier_hosts WHERE host = ?", (host,))
        if not rows:
            return HostState(host)
        *counts, not_before = rows[0]
        return HostState(*counts, deferred_s=max(float(not_before) - self.clock(), 0.0))

    def counts(self, top: int = 10) -> FrontierCounts:
        now = self.clock()
        queued, leased, done, failed = self._read(
            "SELECT COALESCE(SUM(queued), 0), COALESCE(SUM(leased), 0), COALESCE(SUM(done), 0),"
            " COALESCE(SUM(failed), 0) FROM frontier_hosts")[0]
        due, oldest = self._read("SELECT COUNT(*), MIN(due) FROM frontier"
                                 " WHERE state = 0 AND due <= ?", (now,))[0]
        hosts = self._read("SELECT host, queued FROM frontier_hosts WHERE queued > 0"
                           " ORDER BY queued DESC, host LIMIT ?", (top,))
        return FrontierCounts(
            queued=int(queued), due=int(due), leased=int(leased), done=int(done),
            failed=int(failed), oldest_due_s=None if oldest is None else max(now - oldest, 0.0),
            top_hosts=[(h, int(q)) for h, q in hosts])

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise FrontierUnavailable(f"frontier database {str(self.path)!r}: {exc}") from exc
