"""The priority score of a peer: a documented sum of weighted terms, each kept for display.

Pure. The terms and their weights are described in :mod:`config.sections.triage`; the
ranking key puts every peer with a handshake (level >= 1) above every level-0 peer, then
orders by score, then by address.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime

from config.sections.triage import TriageSettings

DAY_MS = 86_400_000


@dataclass(frozen=True)
class PeerFigures:
    """What the score is computed from (one peer, over its flagged swarms)."""

    ip: str
    swarms: int
    severity: int
    level: int
    first_seen_ms: int
    last_seen_ms: int
    completeness: float  # largest have fraction in a flagged swarm, 0 when unknown
    observations: int


@dataclass(frozen=True)
class Term:
    name: str
    weight: float
    value: float  # the input as shown (e.g. 3 swarms)
    factor: float  # what the weight multiplies (e.g. log2(1 + 3))
    formula: str

    @property
    def points(self) -> float:
        return self.weight * self.factor


@dataclass(frozen=True)
class Score:
    total: float
    terms: tuple[Term, ...]
    handshake: bool

    def explain(self) -> list[str]:
        lines = [f"{t.name:<13} {t.weight:g} x {t.formula} = {t.points:.2f}" for t in self.terms]
        tier = ("handshake (level >= 1): ranks above every level-0 peer" if self.handshake
                else "level 0 only (address reported): ranks below every peer with a handshake")
        return [*lines, f"{'total':<13} {self.total:.2f}", f"{'tier':<13} {tier}"]


def score(fig: PeerFigures, settings: TriageSettings, now: datetime) -> Score:
    now_ms = int(now.timestamp() * 1000)
    span_days = max(0.0, (fig.last_seen_ms - fig.first_seen_ms) / DAY_MS)
    age_days = max(0.0, (now_ms - fig.last_seen_ms) / DAY_MS)
    half = settings.recency_half_life_days
    terms = (
        Term("swarms", settings.weight_swarms, fig.swarms, math.log2(1 + fig.swarms),
             f"log2(1 + {fig.swarms} flagged swarms)"),
        Term("severity", settings.weight_severity, fig.severity, float(fig.severity),
             f"severity {fig.severity}"),
        Term("level", settings.weight_level, fig.level, float(fig.level), f"level L{fig.level}"),
        Term("persistence", settings.weight_persistence, span_days, math.log2(1 + span_days),
             f"log2(1 + {span_days:.1f} days first to last seen)"),
        Term("recency", settings.weight_recency, age_days, 0.5 ** (age_days / half),
             f"0.5^({age_days:.1f} days since last seen / {half:g})"),
        Term("completeness", settings.weight_completeness, fig.completeness, fig.completeness,
             f"{fig.completeness:.0%} of a flagged torrent's pieces"),
    )
    total = round(sum(t.points for t in terms), 6)
    return Score(total, terms, fig.level >= 1)


def rank_key(ip: str, s: Score) -> tuple[int, float, int, bytes]:
    """Sort key, ascending: handshake peers first, higher scores first, then by address."""
    address = ipaddress.ip_address(ip)
    return (0 if s.handshake else 1, -s.total, address.version, address.packed)
