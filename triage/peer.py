"""One peer's facts: addresses, ports, clients, flagged swarms with the records behind each
level, when it was seen (days, hours of day in UTC and in its region's time zone), piece
fractions, where it is, hints of the same host elsewhere, and its score explained.

The score and rank come from :func:`triage.ranking.rank` (one definition for the list and
the explanation); the facts from the peer's own observations and its evidence sightings.
Reads the ``triage`` settings section and the data directory (passed in).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.sections.triage import TriageSettings
from index.backends.base import Backend
from query.model import Search, SortField, Term
from triage.args import prefix64
from triage.continuity import client_hints
from triage.enrichment import Enricher
from triage.ranking import RankedPeer, Scope, rank, scope_query
from triage.sightings import Sighting, sightings
from triage.swarms import SwarmCatalog, every_source

PEER_ID_PREFIX_HEX = 16  # 8 bytes: the client and version part of an Azureus-style peer id
MAX_OBSERVATIONS = 50_000


class PeerNotFound(Exception):
    """No observation of this address in the index."""


async def observations_of(backend: Backend, ip: str) -> list[dict[str, Any]]:
    search = Search("observation", query=Term("ip", ip), size=10_000,
                    sort=(SortField("first_seen", "asc"),))
    out: list[dict[str, Any]] = []
    async for src in every_source(backend, search):
        out.append(src)
        if len(out) >= MAX_OBSERVATIONS:
            break
    return out


def _hours(times: list[datetime], zone: ZoneInfo | None) -> list[int]:
    counts = [0] * 24
    for t in times:
        counts[(t.astimezone(zone) if zone else t.astimezone(UTC)).hour] += 1
    return counts


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def swarm_rows(obs: list[dict[str, Any]], catalog: SwarmCatalog) -> list[dict[str, Any]]:
    """One row per flagged swarm of the peer, with the records behind its highest level."""
    by_swarm: dict[str, list[dict[str, Any]]] = {}
    for o in obs:
        key = o["infohash"] if catalog.get(o["infohash"]) else o.get("infohash_v2")
        if key and catalog.get(key):
            by_swarm.setdefault(key, []).append(o)
    rows = []
    for ih, items in by_swarm.items():
        swarm = catalog.swarms[ih]
        level = max(o.get("level", 0) for o in items)
        fractions = [o["have_fraction"] for o in items if o.get("have_fraction") is not None]
        rows.append({
            "infohash": ih, "name": swarm.name, "total_size": swarm.total_size,
            "reasons": [asdict(r) for r in swarm.reasons], "severity": swarm.severity,
            "level": level, "first_seen": min(o["first_seen"] for o in items),
            "last_seen": max(o["last_seen"] for o in items),
            "have_fraction": max(fractions) if fractions else None,
            "ports": sorted({o["port"] for o in items}),
            "probes": sorted({o.get("probe_id", "") for o in items}),
            "records": [{"observation_id": o.get("id", ""), "port": o["port"],
                         "probe_id": o.get("probe_id", ""), "chain_hash": o.get("chain_hash", ""),
                         "artifacts_sha256": o.get("artifacts_sha256", "")}
                        for o in items if o.get("level", 0) == level],
        })
    rows.sort(key=lambda r: (-r["severity"], -r["level"], r["first_seen"]))
    return rows


def total_fraction(rows: list[dict[str, Any]]) -> float | None:
    """Share of all pieces of its flagged torrents it announced, weighted by size if known."""
    known = [r for r in rows if r["have_fraction"] is not None]
    if not known:
        return None
    if all(r["total_size"] for r in known):
        size = sum(r["total_size"] for r in known)
        return sum(r["have_fraction"] * r["total_size"] for r in known) / size
    return sum(r["have_fraction"] for r in known) / len(known)


def _times(seen: list[Sighting]) -> list[datetime]:
    out = []
    for s in seen:
        out.append(datetime.fromisoformat(s.seen_at))
        if not s.record_hash:
            out.append(datetime.fromisoformat(s.first_seen))
    return out


async def detail(backend: Backend, catalog: SwarmCatalog, settings: TriageSettings,
                 enricher: Enricher, data_dir: Path, ip: str, scope: Scope, now: datetime
                 ) -> dict[str, Any]:
    obs = await observations_of(backend, ip)
    if not obs:
        raise PeerNotFound(f"no observation of {ip} in the index")
    ranked = await rank(backend, catalog, settings, scope, now)
    me: RankedPeer | None = next((p for p in ranked if p.ip == ip), None)
    rows = swarm_rows(obs, catalog)
    seen = sightings(ip, data_dir, [o for o in obs if catalog.get(o["infohash"])
                                    or catalog.get(o.get("infohash_v2") or "")])
    times = _times(seen)
    where = enricher.lookup(ip)
    zone = _zone(where.get("time_zone", ""))
    highest = max((o.get("level", 0) for o in obs), default=0)
    net = prefix64(ip)
    hints = list(me.hints) if me else []
    hints += await client_hints(backend, scope_query(catalog, scope), obs,
                                settings.continuity_window_s)
    return {
        "ip": ip,
        "prefix64": net,
        "same_prefix64": sorted(p.ip for p in ranked if net and p.prefix64 == net
                                and p.ip != ip),
        "rank": me.rank if me else None,
        "ranked": len(ranked),
        "score": _score_dict(me) if me else None,
        "ports": sorted({o["port"] for o in obs}),
        "clients": sorted({o["client"] for o in obs if o.get("client")}),
        "peer_id_prefixes": sorted({o["peer_id"][:PEER_ID_PREFIX_HEX] for o in obs
                                    if o.get("peer_id")}),
        "ext_v": sorted({o["ext_v"] for o in obs if o.get("ext_v")}),
        "sources": sorted({s for o in obs for s in o.get("sources", [])}),
        "observations": len(obs),
        "unflagged_swarms": len({o["infohash"] for o in obs}) - len(rows),
        "swarms": rows,
        "highest_level": highest,
        "highest_level_records": [r for row in rows for r in row["records"]
                                  if row["level"] == highest],
        "first_seen": min(o["first_seen"] for o in obs),
        "last_seen": max(o["last_seen"] for o in obs),
        "days_active": sorted({t.astimezone(UTC).date().isoformat() for t in times}),
        "hours_utc": _hours(times, None),
        "time_zone": where.get("time_zone", "") if zone else "",
        "hours_local": _hours(times, zone) if zone else None,
        "piece_fraction_total": total_fraction(rows),
        "location": where,
        "enrichment": "on" if enricher.enabled else "off (no [enrichment] database configured)",
        "hints": [{**asdict(h), "text": h.text()} for h in hints],
        "sightings": len(seen),
        "sightings_without_records": sum(1 for s in seen if not s.record_hash),
        "levels": dict(sorted(Counter(o.get("level", 0) for o in obs).items())),
    }


def _score_dict(p: RankedPeer) -> dict[str, Any]:
    return {
        "total": p.score.total,
        "handshake": p.score.handshake,
        "terms": [{"name": t.name, "weight": t.weight, "value": t.value, "factor": t.factor,
                   "points": round(t.points, 4), "formula": t.formula} for t in p.score.terms],
        "explain": p.score.explain(),
    }


def row(p: RankedPeer) -> dict[str, Any]:
    """One ranked peer as JSON-ready data (``heroes peers list --json``, the console)."""
    f = p.figures
    return {
        "rank": p.rank, "ip": p.ip, "prefix64": p.prefix64, "members": p.members,
        "score": p.score.total, "handshake": p.score.handshake, "swarms": f.swarms,
        "severity": f.severity, "level": f.level,
        "first_seen": _iso(f.first_seen_ms), "last_seen": _iso(f.last_seen_ms),
        "days": round((f.last_seen_ms - f.first_seen_ms) / 86_400_000, 2),
        "completeness": f.completeness, "observations": f.observations,
        "terms": {t.name: round(t.points, 4) for t in p.score.terms},
        "hints": [h.text() for h in p.hints],
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
