"""Analysts' decisions on hits: a hit confirmed or a false positive, and the precision they give.

A hit is one match of one document: (document kind, document id, list, type, value), the
value being the document's (for PDQ, the near hash the document carries). Each hit has at
most one current decision (a later one replaces it, and every decision is also kept in
``history``: who changed their mind, and when); who decided is audited by the caller. The
precision of a list is confirmed / decided over its current decisions, None before any
decision; per source it sums the lists of that source.

Path: ``<data_dir>/hit-decisions.sqlite`` (setting ``data_dir``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from documents import iso, utcnow
from index.hashsets.errors import HashSetError
from storage.sqlite import open_database, transaction

CONFIRMED = "confirmed"
FALSE_POSITIVE = "false_positive"
VERDICTS = (CONFIRMED, FALSE_POSITIVE)
MAX_COMMENT = 2000

_COLUMNS = "kind, doc_id, list, type, value, verdict, user, comment, decided_at, negative_list"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS decisions (
    kind TEXT NOT NULL, doc_id TEXT NOT NULL, list TEXT NOT NULL, type TEXT NOT NULL,
    value TEXT NOT NULL, verdict TEXT NOT NULL, user TEXT NOT NULL, comment TEXT NOT NULL,
    decided_at TEXT NOT NULL, negative_list TEXT NOT NULL,
    PRIMARY KEY (kind, doc_id, list, type, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decisions_by_list ON decisions (list, verdict);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    {_COLUMNS.replace(", ", " TEXT NOT NULL, ")} TEXT NOT NULL
);
"""


class BadDecision(HashSetError, ValueError):
    """A decision that cannot be recorded: unknown verdict, comment too long, no such hit."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One match of one document against one list entry."""

    kind: str
    doc_id: str
    list: str
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Decision:
    hit: Hit
    verdict: str
    user: str
    comment: str
    decided_at: str
    negative_list: str = ""  # where a false positive's value was added, if anywhere

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self.hit), **{k: v for k, v in asdict(self).items() if k != "hit"}}


@dataclass(frozen=True, slots=True)
class Precision:
    """Decided hits of one list (or one source): confirmed / decided, None when none decided."""

    name: str
    confirmed: int
    false_positive: int

    @property
    def decided(self) -> int:
        return self.confirmed + self.false_positive

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.decided if self.decided else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "confirmed": self.confirmed,
            "false_positive": self.false_positive,
            "decided": self.decided,
            "precision": self.precision,
        }


def parse_verdict(raw: str) -> str:
    """The verdict a spelling names (``confirmed``, ``false-positive``, ``fp``...)."""
    word = raw.strip().lower().replace("-", "_").replace(" ", "_")
    word = {"confirm": CONFIRMED, "fp": FALSE_POSITIVE, "false": FALSE_POSITIVE}.get(word, word)
    if word not in VERDICTS:
        raise BadDecision(f"verdict {raw!r} is not one of confirmed, false-positive")
    return word


def _decision(row: tuple[str, ...]) -> Decision:
    return Decision(Hit(*row[:5]), *row[5:])


class DecisionStore:
    """Current decision per hit, their history, and precision by list or source."""

    def __init__(self, path: Path):
        self.path = path
        self._db = open_database(path, _SCHEMA, synchronous="FULL", version=1)

    def close(self) -> None:
        self._db.close()

    def decide(
        self,
        hit: Hit,
        verdict: str,
        *,
        user: str,
        comment: str = "",
        negative_list: str = "",
        now: datetime | None = None,
    ) -> Decision:
        """Record (or replace) the decision on ``hit``; returns it."""
        verdict = parse_verdict(verdict)
        comment = comment.strip()
        if len(comment) > MAX_COMMENT:
            raise BadDecision(f"the comment is longer than {MAX_COMMENT} characters")
        if not user:
            raise BadDecision("a decision needs the name of the analyst who made it")
        decision = Decision(hit, verdict, user, comment, iso(now or utcnow()), negative_list)
        row = (hit.kind, hit.doc_id, hit.list, hit.type, hit.value,
               verdict, user, comment, decision.decided_at, negative_list)
        db = self._db
        with transaction(db):
            db.execute(f"INSERT OR REPLACE INTO decisions ({_COLUMNS}) VALUES ({_marks(10)})", row)
            db.execute(f"INSERT INTO history ({_COLUMNS}) VALUES ({_marks(10)})", row)
        return decision

    def decision_of(self, hit: Hit) -> Decision | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM decisions WHERE kind = ? AND doc_id = ? AND list = ?"
            " AND type = ? AND value = ?",
            (hit.kind, hit.doc_id, hit.list, hit.type, hit.value),
        ).fetchone()
        return _decision(row) if row else None

    def decisions_of_document(self, kind: str, doc_id: str) -> list[Decision]:
        return [
            _decision(r)
            for r in self._db.execute(
                f"SELECT {_COLUMNS} FROM decisions WHERE kind = ? AND doc_id = ?"
                " ORDER BY list, type, value",
                (kind, doc_id),
            )
        ]

    def decisions(self, list_name: str | None = None) -> list[Decision]:
        """Current decisions, of one list or of all, oldest first."""
        where, args = ("WHERE list = ?", (list_name,)) if list_name else ("", ())
        return [
            _decision(r)
            for r in self._db.execute(
                f"SELECT {_COLUMNS} FROM decisions {where} ORDER BY decided_at", args
            )
        ]

    def history(self, hit: Hit) -> list[Decision]:
        """Every decision ever recorded on ``hit``, oldest first."""
        return [
            _decision(r)
            for r in self._db.execute(
                f"SELECT {_COLUMNS} FROM history WHERE kind = ? AND doc_id = ? AND list = ?"
                " AND type = ? AND value = ? ORDER BY seq",
                (hit.kind, hit.doc_id, hit.list, hit.type, hit.value),
            )
        ]

    def precision(self) -> dict[str, Precision]:
        """Precision of each list with decided hits, by list name."""
        counts: dict[str, dict[str, int]] = {}
        for name, verdict, n in self._db.execute(
            "SELECT list, verdict, COUNT(*) FROM decisions GROUP BY list, verdict"
        ):
            counts.setdefault(name, {})[verdict] = n
        return {
            name: Precision(name, c.get(CONFIRMED, 0), c.get(FALSE_POSITIVE, 0))
            for name, c in sorted(counts.items())
        }


def precision_by_source(
    by_list: Mapping[str, Precision], sources: Mapping[str, str]
) -> dict[str, Precision]:
    """Sum list precisions per source (``sources``: list name -> source; '' when unknown)."""
    totals: dict[str, tuple[int, int]] = {}
    for name, p in by_list.items():
        source = sources.get(name, "")
        confirmed, false_positive = totals.get(source, (0, 0))
        totals[source] = (confirmed + p.confirmed, false_positive + p.false_positive)
    return {s: Precision(s, c, f) for s, (c, f) in sorted(totals.items())}


def hits_of(kind: str, doc_id: str, matches: Iterable[Mapping[str, Any]]) -> list[Hit]:
    """The hits of a stored document, from its ``matches``."""
    return list(dict.fromkeys(
        Hit(kind, doc_id, str(m.get("list", "")), str(m.get("type", "")), str(m.get("value", "")))
        for m in matches
    ))


def find_hit(kind: str, doc_id: str, matches: Iterable[Mapping[str, Any]], *, list_name: str,
             value: str = "", type_name: str = "") -> Hit:
    """The one hit of the document on ``list_name`` (and ``value``/``type`` when given).

    Raises :class:`BadDecision` naming what the document's hits are when none or several fit.
    """
    hits = hits_of(kind, doc_id, matches)
    fit = [
        h for h in hits
        if h.list == list_name and (not value or h.value == value.strip().lower()
                                    or h.value == value.strip())
        and (not type_name or h.type == type_name)
    ]
    if len(fit) == 1:
        return fit[0]
    known = ", ".join(f"{h.list}/{h.type}/{h.value}" for h in hits) or "none"
    if not fit:
        raise BadDecision(
            f"{kind} {doc_id!r} has no hit on list {list_name!r}"
            + (f" with value {value!r}" if value else "") + f"; its hits: {known}"
        )
    raise BadDecision(
        f"{kind} {doc_id!r} has {len(fit)} hits on list {list_name!r}: give the value "
        f"(one of {', '.join(h.value for h in fit)})"
    )


def decisions_path(data_dir: Path) -> Path:
    return Path(data_dir) / "hit-decisions.sqlite"


def _marks(n: int) -> str:
    return ", ".join("?" * n)
