"""Deconfliction within the unit: which analyst works on which peer, under which case.

One SQLite database, ``<data_dir>/triage/assignments.sqlite``: the current assignment of
each peer (address or /64) and every change, in order, with who made it and when. Every
view and export of a peer is audited by the caller (console or CLI) in the audit log.
Reads the data directory (passed in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.sqlite import open_database, transaction
from triage.errors import TriageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS assignment (
    peer TEXT PRIMARY KEY, case_number TEXT NOT NULL, analyst TEXT NOT NULL,
    note TEXT NOT NULL, assigned_by TEXT NOT NULL, assigned_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assignment_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, peer TEXT NOT NULL, case_number TEXT NOT NULL,
    analyst TEXT NOT NULL, note TEXT NOT NULL, changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL, released INTEGER NOT NULL);
"""
CASE_RE = re.compile(r"^[\w./:#-]{1,64}$")


@dataclass(frozen=True)
class Assignment:
    peer: str
    case_number: str
    analyst: str
    note: str
    assigned_by: str
    assigned_at: str


def assignments_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "triage" / "assignments.sqlite"


class Assignments:
    def __init__(self, path: Path):
        self.db = open_database(path, SCHEMA, synchronous="FULL", version=1)

    def get(self, peer: str) -> Assignment | None:
        row = self.db.execute("SELECT peer, case_number, analyst, note, assigned_by, "
                              "assigned_at FROM assignment WHERE peer = ?", (peer,)).fetchone()
        return Assignment(*row) if row else None

    def all(self) -> dict[str, Assignment]:
        cur = self.db.execute("SELECT peer, case_number, analyst, note, assigned_by, "
                              "assigned_at FROM assignment")
        return {row[0]: Assignment(*row) for row in cur}

    def assign(self, peer: str, case_number: str, analyst: str, by: str, note: str = "",
               now: datetime | None = None) -> Assignment:
        case_number, analyst = case_number.strip(), analyst.strip()
        if not CASE_RE.match(case_number):
            raise TriageError("case", f"expected a case number of letters, digits and ./:#- "
                              f"(1 to 64), got {case_number!r:.80}")
        if not analyst or len(analyst) > 64:
            raise TriageError("analyst", f"expected an analyst name, got {analyst!r:.80}")
        at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        item = Assignment(peer, case_number, analyst, note.strip()[:500], by, at)
        with transaction(self.db):
            self.db.execute("INSERT OR REPLACE INTO assignment VALUES (?, ?, ?, ?, ?, ?)",
                            (peer, item.case_number, item.analyst, item.note, by, at))
            self._history(item, by, at, released=False)
        return item

    def release(self, peer: str, by: str, now: datetime | None = None) -> Assignment | None:
        current = self.get(peer)
        if current is None:
            return None
        at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        with transaction(self.db):
            self.db.execute("DELETE FROM assignment WHERE peer = ?", (peer,))
            self._history(current, by, at, released=True)
        return current

    def history(self, peer: str) -> list[dict[str, object]]:
        cur = self.db.execute(
            "SELECT case_number, analyst, note, changed_by, changed_at, released FROM "
            "assignment_history WHERE peer = ? ORDER BY id", (peer,))
        return [{"case_number": c, "analyst": a, "note": n, "changed_by": b, "changed_at": t,
                 "released": bool(r)} for c, a, n, b, t, r in cur]

    def _history(self, item: Assignment, by: str, at: str, *, released: bool) -> None:
        self.db.execute(
            "INSERT INTO assignment_history (peer, case_number, analyst, note, changed_by, "
            "changed_at, released) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (item.peer, item.case_number, item.analyst, item.note, by, at, int(released)))

    def close(self) -> None:
        self.db.close()
