"""Relaunch tracking: a watched service went down and a newer onion carries its values.

:func:`find_relaunches` looks at every watched service that is down (its last check found it
down) and at the services first seen after it that are not down and share at least
``min_links`` strong, non-common values with it (each value one link; near-duplicate pages
one more, near-identical images one more). Each such pair is a candidate with its evidence
(every shared value, when each side carried it, from which record) and a confidence of
``1 - 0.5 ** links``.
:class:`RelaunchAlerter` raises the ``relaunch`` alert naming both onions through the alert
store (deterministic, exactly once under replay, email through the outbox to
``analysis.relaunch_recipients``). Confirming a candidate
(:func:`decide`) moves the watch to the new onion and makes the alert rules naming the old
one match for the new one too (alerting.follow);
:meth:`~analysis.state.AnalysisDB.followed` gives where a watched onion lives now.
Reads the ``analysis`` and ``alerts`` settings and the alert database path.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerting.db import AlertDB
from alerting.follow import names
from alerting.rules import Firing
from alerting.state import AlertState
from analysis.graph import Graph
from analysis.state import AnalysisDB, Relaunch
from analysis.values import strength
from config.sections.alerts import AlertRule, AlertSettings
from documents import Document, document_id, iso

RULE_NAME = "relaunch"
RULE_TYPE = "relaunch"


def rules_naming(rules: Iterable[AlertRule], host: str) -> list[str]:
    """The alert rules whose query names ``host``: those that follow it once its relaunch
    is confirmed (alerting.follow; the settings file is not rewritten)."""
    return [r.name for r in rules if names(r.query, host)]


def decide(db: AnalysisDB, alerts_db: Path | None, old: str, new: str, status: str, by: str,
           at_ms: int) -> bool:
    """Confirm or reject the candidate ``old -> new`` (False when there is none or it is
    decided). A confirmation moves the watch and makes the alert rules naming ``old``
    match for ``new`` as well (unless ``alerts_db`` is None: no alert database to tell);
    the rules' move is written first, so a crash in between leaves a candidate still to
    decide, never a confirmation the rules missed."""
    found = db.relaunch(old, new)
    if found is None or found.status != "candidate":
        return False
    if status == "confirmed" and alerts_db is not None:
        alerts = AlertDB(alerts_db)
        try:
            alerts.add_follow(old, new, by, at_ms)
        finally:
            alerts.close()
    return db.decide_relaunch(old, new, status, by, at_ms)


def confidence(links: int) -> float:
    return round(1 - 0.5 ** links, 4)


def _iso(ms: int) -> str:
    return iso(datetime.fromtimestamp(ms / 1000, UTC))


def find_relaunches(db: AnalysisDB, graph: Graph, min_links: int) -> list[Relaunch]:
    """New candidates (not yet recorded) for every watched service that is down."""
    found = []
    for host, _, _ in db.watches():
        old = db.member(host)
        if old is None or old["up"] != 0:
            continue
        evidence: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for type_, value in db.values_of(host):
            if strength(type_) != "strong" or graph.common.is_common(type_, value):
                continue
            carriers = {c[0]: c for c in db.carriers(type_, value)}
            mine = carriers.get(host)
            if mine is None:
                continue
            for other, first_ms, last_ms, first_rec, _ in carriers.values():
                if other != host:
                    evidence[other].append({
                        "type": type_, "value": value,
                        "old_first_seen": _iso(mine[1]), "old_last_seen": _iso(mine[2]),
                        "old_record": mine[4],
                        "new_first_seen": _iso(first_ms), "new_last_seen": _iso(last_ms),
                        "new_record": first_rec,
                    })
        for type_, a_rec, b_rec, a, b, a_ms, b_ms, score in db.near_of(host):
            other, mine_rec, other_rec = (b, a_rec, b_rec) if a == host else (a, b_rec, a_rec)
            mine_ms, other_ms = (a_ms, b_ms) if a == host else (b_ms, a_ms)
            if other != host and not any(e["type"] == type_ for e in evidence[other]):
                evidence[other].append({
                    "type": type_, "value": (f"jaccard {score:.2f}" if type_ == "text_near"
                                             else f"distance {score:g}"),
                    "old_first_seen": _iso(mine_ms), "old_last_seen": _iso(mine_ms),
                    "old_record": mine_rec, "new_first_seen": _iso(other_ms),
                    "new_last_seen": _iso(other_ms), "new_record": other_rec,
                })
        for other, items in sorted(evidence.items()):
            new = db.member(other)
            if (new is None or new["kind"] != "service" or new["up"] == 0
                    or new["first_ms"] <= old["first_ms"]
                    or len(items) < min_links or db.relaunch(host, other) is not None):
                continue
            found.append(Relaunch(
                old=host, new=other, links=len(items), confidence=confidence(len(items)),
                evidence=sorted(items, key=lambda e: (e["type"], e["value"])),
                status="candidate", found_ms=max(new["first_ms"], old["last_ms"]),
                decided_by="", decided_ms=None))
    return found


class RelaunchAlerter:
    """Raises one ``relaunch`` alert per candidate, naming both onions and the evidence."""

    def __init__(self, alerts: AlertSettings, recipients: list[str], db_path: Path,
                 append: Callable[[Iterable[Document]], int]):
        self.alerts = alerts
        self.rule = AlertRule(name=RULE_NAME, type="hit", recipients=recipients,
                              severity="high", realert_s=0)
        self.db_path = db_path
        self.append = append

    def raise_alerts(self, relaunches: Iterable[Relaunch]) -> int:
        firings = [self._firing(r) for r in relaunches]
        if not firings:
            return 0
        db = AlertDB(self.db_path)
        try:
            state = AlertState(db, console_url=self.alerts.console_url,
                               max_matched=self.alerts.max_matched)
            changed = state.apply(firings, {RULE_NAME: self.rule}, time.time())
            state.spool_pending(self.append)
        finally:
            db.close()
        return len(changed)

    @staticmethod
    def _firing(r: Relaunch) -> Firing:
        when = datetime.fromtimestamp(r.found_ms / 1000, UTC)
        shown = ", ".join(f"{e['type']} {e['value']}" for e in r.evidence[:6])
        summary = (f"relaunch: watched service {r.old} is down and {r.new} shares {r.links} "
                   f"strong values with it ({shown}); confidence {r.confidence:.2f}")
        facts: list[tuple[str, str]] = [
            ("Old onion", r.old), ("New onion", r.new),
            ("Links", str(r.links)), ("Confidence", f"{r.confidence:.2f}"),
        ]
        for e in r.evidence:
            facts.append((f"Shared {e['type']}", (
                f"{e['value']}: {r.old} {e['old_first_seen']} .. {e['old_last_seen']} "
                f"(record {e['old_record']}); {r.new} {e['new_first_seen']} .. "
                f"{e['new_last_seen']} (record {e['new_record']})")))
        return Firing(
            rule=RULE_NAME, rule_type=RULE_TYPE, doc_kind="service",
            doc_id=document_id("service", [r.new]), version=f"{r.old}@{iso(when)}",
            time=when, key=f"{r.old} -> {r.new}", summary=summary, facts=tuple(facts))
