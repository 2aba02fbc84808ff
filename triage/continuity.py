"""Possible same hosts: one peer id (or client) seen on a new address within a short time.

Never a merge: each hint names both addresses, what they share and the gap, and the peers
stay apart. Peer ids shared by more than one address are found by a terms aggregation in
the backend (cardinality of ``ip`` per ``peer_id``); only their observations are read.
Reads ``triage.continuity_window_s`` (passed in).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.timespec import from_ms, to_ms
from index.backends.base import Backend
from query.model import Bool, Metric, Query, Range, Search, SortField, Term, Terms
from triage.buckets import all_buckets
from triage.swarms import every_source

CHUNK = 500


@dataclass(frozen=True)
class Hint:
    ip: str  # this peer
    other_ip: str
    via: str  # "peer id" or "client"
    value: str
    gap_s: int  # other's first sighting after this one's last (negative: other came first)

    def text(self) -> str:
        when = (f"{self.gap_s}s after it left" if self.gap_s >= 0
                else f"{-self.gap_s}s before it appeared")
        return (f"possible same host: {self.via} {self.value!r} seen on {self.other_ip} "
                f"{when} (not merged)")


def _ms(value: str) -> int:
    return to_ms(datetime.fromisoformat(value))


def moves(observations: Iterable[dict[str, Any]], via: str, field: str, window_s: float
          ) -> list[Hint]:
    """Hints, both ways, from observations sharing ``field``: consecutive addresses whose
    sightings are at most ``window_s`` apart. Pure."""
    spans: dict[tuple[str, str], list[int]] = {}
    for o in observations:
        value = o.get(field) or ""
        if not value:
            continue
        span = spans.setdefault((value, o["ip"]), [_ms(o["first_seen"]), _ms(o["last_seen"])])
        span[0] = min(span[0], _ms(o["first_seen"]))
        span[1] = max(span[1], _ms(o["last_seen"]))
    by_value: dict[str, list[tuple[int, int, str]]] = {}
    for (value, ip), (first, last) in spans.items():
        by_value.setdefault(value, []).append((first, last, ip))
    hints: list[Hint] = []
    window_ms = window_s * 1000
    for value, seen in by_value.items():
        seen.sort()
        for (_, a_last, a_ip), (b_first, _, b_ip) in itertools.pairwise(seen):
            gap = b_first - a_last
            if a_ip != b_ip and abs(gap) <= window_ms:
                hints.append(Hint(a_ip, b_ip, via, value, gap // 1000))
                hints.append(Hint(b_ip, a_ip, via, value, -(gap // 1000)))
    return hints


async def peer_id_hints(backend: Backend, query: Query, window_s: float, *, limit: int
                        ) -> dict[str, list[Hint]]:
    """IP -> its hints, over the observations ``query`` selects."""
    rows = await all_buckets(backend, "observation", "peer_id", query,
                             (("ips", Metric("cardinality", "ip", precision=100)),), limit=limit)
    shared = sorted(k for k, b in rows.items() if k and b.get("ips", 0) > 1)
    out: dict[str, list[Hint]] = {}
    for i in range(0, len(shared), CHUNK):
        chunk = tuple(shared[i:i + CHUNK])
        search = Search("observation", query=Bool(filter=(query, Terms("peer_id", chunk))),
                        size=10_000, sort=(SortField("first_seen", "asc"),))
        found = [o async for o in every_source(backend, search)]
        for hint in moves(found, "peer id", "peer_id", window_s):
            out.setdefault(hint.ip, []).append(hint)
    return out


async def client_hints(backend: Backend, query: Query, peer: list[dict[str, Any]],
                       window_s: float) -> list[Hint]:
    """For one peer: other addresses with its client and ``v`` in the same swarm, seen within
    the window of its first or last sighting (a weaker hint than a peer id)."""
    hints: list[Hint] = []
    if not peer:
        return hints
    ip = peer[0]["ip"]
    pairs = {(o.get("client", ""), o.get("ext_v", ""), o["infohash"]) for o in peer
             if o.get("client")}
    for client, ext_v, infohash in sorted(pairs)[:20]:
        mine = [o for o in peer if o.get("client") == client and o["infohash"] == infohash]
        first = min(_ms(o["first_seen"]) for o in mine) - int(window_s * 1000)
        last = max(_ms(o["last_seen"]) for o in mine) + int(window_s * 1000)
        near = Bool(filter=(query, Term("client", client), Term("infohash", infohash),
                            Range("last_seen", gte=from_ms(first)),
                            Range("first_seen", lte=from_ms(last))),
                    must_not=(Term("ip", ip),))
        search = Search("observation", query=near, size=200, sort=(SortField("first_seen", "asc"),))
        others = [h["_source"] for h in (await backend.search(search))["hits"]["hits"]
                  if h["_source"].get("ext_v", "") == ext_v]
        for hint in moves([*mine, *others], "client", "client", window_s):
            if hint.ip == ip:
                hints.append(hint)
    return hints
