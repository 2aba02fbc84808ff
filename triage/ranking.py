"""Every peer of the flagged swarms, with its figures, score, hints and place in the ranking.

The figures are aggregated in the index backend, one terms bucket per IP address over the
observations of flagged swarms (distinct swarms, highest level, first and last seen,
largest piece fraction), plus one pass per severity tier; Python only scores one row per
peer. IPv6 peers also carry their /64 network, and :func:`by_prefix64` folds the addresses
of one /64 into one row. Reads the ``triage`` settings section (passed in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from config.sections.triage import TriageSettings
from index.backends.base import Backend
from query.model import Bool, Metric, Query, Range, Terms
from triage.args import prefix64
from triage.buckets import all_buckets
from triage.continuity import Hint, peer_id_hints
from triage.scoring import PeerFigures, Score, rank_key, score
from triage.swarms import SwarmCatalog

METRICS: tuple[tuple[str, Metric], ...] = (
    # Exact up to 500 swarms a peer (about 4 KB a bucket on Elasticsearch).
    ("swarms", Metric("cardinality", "infohash", precision=500)),
    ("level", Metric("max", "level")),
    ("first", Metric("min", "first_seen")),
    ("last", Metric("max", "last_seen")),
    ("complete", Metric("max", "have_fraction")),
)


@dataclass
class RankedPeer:
    ip: str
    figures: PeerFigures
    score: Score
    rank: int = 0
    prefix64: str | None = None
    members: list[str] = field(default_factory=list)  # addresses folded into this row
    hints: list[Hint] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    """Which observations count: time range (on last seen) and lowest level."""

    since: datetime | None = None
    until: datetime | None = None
    min_level: int = 0


def scope_query(catalog: SwarmCatalog, scope: Scope) -> Query:
    filters: list[Query] = [catalog.query()]
    if scope.since is not None or scope.until is not None:
        filters.append(Range("last_seen", gte=scope.since, lte=scope.until))
    if scope.min_level > 0:
        filters.append(Range("level", gte=scope.min_level))
    return Bool(filter=tuple(filters))


async def rank(backend: Backend, catalog: SwarmCatalog, settings: TriageSettings,
               scope: Scope, now: datetime, *, hints: bool = True) -> list[RankedPeer]:
    """Every peer in scope, best first (see :func:`triage.scoring.rank_key`)."""
    query = scope_query(catalog, scope)
    limit = settings.max_peers
    rows = await all_buckets(backend, "observation", "ip", query, METRICS, limit=limit)
    severity: dict[str, int] = {}
    tiers = sorted(catalog.severity_tiers().items(), reverse=True)
    # Every swarm has some severity: the peers in no higher tier are in the lowest one.
    lowest = tiers.pop()[0] if tiers and catalog.all_severe() else 0
    for tier, infohashes in tiers:
        tier_query = Bool(filter=(query, catalog.query(infohashes)))
        for ip in await all_buckets(backend, "observation", "ip", tier_query, limit=limit):
            severity.setdefault(ip, tier)
    found = await peer_id_hints(backend, query, settings.continuity_window_s,
                                limit=limit) if hints else {}
    peers = []
    for ip, b in rows.items():
        fig = PeerFigures(
            ip=ip, swarms=int(b["swarms"] or 0), severity=severity.get(ip, lowest),
            level=int(b["level"] or 0), first_seen_ms=int(b["first"] or 0),
            last_seen_ms=int(b["last"] or 0), completeness=float(b["complete"] or 0.0),
            observations=int(b["doc_count"]))
        peers.append(RankedPeer(ip, fig, score(fig, settings, now), prefix64=prefix64(ip),
                                members=[ip], hints=found.get(ip, [])))
    return ordered(peers)


def ordered(peers: list[RankedPeer]) -> list[RankedPeer]:
    peers.sort(key=lambda p: rank_key(p.ip, p.score))
    for i, p in enumerate(peers, 1):
        p.rank = i
    return peers


def combine(ip: str, figs: list[PeerFigures], swarms: int) -> PeerFigures:
    return PeerFigures(
        ip=ip, swarms=swarms, severity=max(f.severity for f in figs),
        level=max(f.level for f in figs), first_seen_ms=min(f.first_seen_ms for f in figs),
        last_seen_ms=max(f.last_seen_ms for f in figs),
        completeness=max(f.completeness for f in figs),
        observations=sum(f.observations for f in figs))


async def by_prefix64(backend: Backend, catalog: SwarmCatalog, settings: TriageSettings,
                      scope: Scope, peers: list[RankedPeer], now: datetime) -> list[RankedPeer]:
    """The ranking with each IPv6 /64 as one row (its distinct swarms counted exactly)."""
    groups: dict[str, list[RankedPeer]] = {}
    rows: list[RankedPeer] = []
    for p in peers:
        if p.prefix64 is None:
            rows.append(p)
        else:
            groups.setdefault(p.prefix64, []).append(p)
    query = scope_query(catalog, scope)
    for net, members in groups.items():
        if len(members) == 1:
            rows.append(members[0])
            continue
        ips = tuple(m.ip for m in members)
        swarms = await all_buckets(backend, "observation", "infohash",
                                   Bool(filter=(query, Terms("ip", ips))),
                                   limit=settings.max_peers)
        fig = combine(net, [m.figures for m in members], len(swarms))
        rows.append(RankedPeer(net, fig, score(fig, settings, now), prefix64=net,
                               members=sorted(ips),
                               hints=[h for m in members for h in m.hints
                                      if h.other_ip not in ips]))
    rows.sort(key=lambda p: rank_key(p.ip.split("/")[0], p.score))
    for i, p in enumerate(rows, 1):
        p.rank = i
    return rows
