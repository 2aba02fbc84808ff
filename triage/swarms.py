"""Which swarms are flagged, and why: hash-list entries of type infohash and flagged torrents.

A swarm (an infohash) is flagged when a hash list names it (``hash`` documents of type
``infohash``) or when its ``torrent`` document is flagged (matched by a list or a keyword
rule at ingest); each reason keeps its list, category and severity (the ``triage.severity``
table maps a category to 0..3; an unlisted category gets ``triage.default_severity``).
Reads the ``triage`` settings section.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from config.sections.triage import TriageSettings
from index.backends.base import Backend
from query.model import Bool, MatchAll, Query, Search, SortField, Term, Terms

PAGE = 10_000
MAX_TERMS_PER_CLAUSE = 60_000


@dataclass(frozen=True)
class Reason:
    """One reason a swarm is flagged."""

    list: str
    category: str
    severity: int
    source: str  # "hash list" or "torrent"


@dataclass
class Swarm:
    infohash: str
    reasons: list[Reason] = field(default_factory=list)
    name: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    total_size: int | None = None

    @property
    def severity(self) -> int:
        return max((r.severity for r in self.reasons), default=0)


class SwarmCatalog:
    """Every flagged swarm, by infohash (v1 or v2 hex)."""

    def __init__(self, swarms: dict[str, Swarm]):
        self.swarms = swarms

    def __len__(self) -> int:
        return len(self.swarms)

    def get(self, infohash: str) -> Swarm | None:
        return self.swarms.get(infohash)

    def severity_tiers(self) -> dict[int, list[str]]:
        """Severity -> the infohashes of that highest severity (severity 0 left out)."""
        tiers: dict[int, list[str]] = {}
        for ih, swarm in self.swarms.items():
            if swarm.severity > 0:
                tiers.setdefault(swarm.severity, []).append(ih)
        return tiers

    def all_severe(self) -> bool:
        """Whether every flagged swarm has a severity above 0."""
        return all(s.severity > 0 for s in self.swarms.values())

    def query(self, infohashes: Iterable[str] | None = None) -> Query:
        """Observations in these flagged swarms (all of them by default), v1 or v2 key."""
        values = sorted(self.swarms if infohashes is None else infohashes)
        if not values:
            return Bool(must_not=(MatchAll(),))  # nothing is flagged: no peer either
        should: list[Query] = []
        for i in range(0, len(values), MAX_TERMS_PER_CLAUSE):
            chunk = tuple(values[i:i + MAX_TERMS_PER_CLAUSE])
            should += [Terms("infohash", chunk), Terms("infohash_v2", chunk)]
        return Bool(should=tuple(should))

    @classmethod
    async def load(cls, backend: Backend, settings: TriageSettings) -> SwarmCatalog:
        swarms: dict[str, Swarm] = {}

        def add(ih: str, reason: Reason) -> Swarm:
            swarm = swarms.setdefault(ih, Swarm(ih))
            if reason not in swarm.reasons:
                swarm.reasons.append(reason)
            return swarm

        async for src in every_source(backend, Search("hash", query=Term("type", "infohash"),
                                                size=PAGE, sort=(SortField("value", "asc"),))):
            category = src.get("category", "")
            add(src["value"], Reason(src["list"], category, _severity(settings, category),
                                     "hash list"))
        async for src in every_source(backend, Search("torrent", query=Term("flagged", True),
                                                size=PAGE, sort=(SortField("infohash", "asc"),))):
            for m in src.get("matches", []):
                reason = Reason(m.get("list", ""), m.get("category", ""),
                                _severity(settings, m.get("category", "")), "torrent")
                add(src["infohash"], reason)
                if src.get("infohash_v2"):
                    add(src["infohash_v2"], reason)
        await _describe(backend, swarms)
        return cls(swarms)


def _severity(settings: TriageSettings, category: str) -> int:
    return settings.severity.get(category, settings.default_severity)


async def every_source(backend: Backend, search: Search) -> AsyncIterator[dict[str, Any]]:
    """Every hit's source, page by page (``search_after``)."""
    while True:
        result = await backend.search(search)
        hits = result["hits"]["hits"]
        for hit in hits:
            yield hit["_source"]
        if len(hits) < search.size:
            return
        search = Search(search.kind, query=search.query, size=search.size, sort=search.sort,
                        search_after=tuple(hits[-1]["sort"]))


async def _describe(backend: Backend, swarms: dict[str, Swarm]) -> None:
    """Names, files and sizes from the torrents' metadata, where fetched."""
    values = sorted(swarms)
    for i in range(0, len(values), MAX_TERMS_PER_CLAUSE):
        chunk = tuple(values[i:i + MAX_TERMS_PER_CLAUSE])
        query = Bool(should=(Terms("infohash", chunk), Terms("infohash_v2", chunk)))
        async for src in every_source(backend, Search("torrent", query=query, size=PAGE,
                                                sort=(SortField("infohash", "asc"),))):
            for key in (src.get("infohash"), src.get("infohash_v2")):
                if key in swarms:
                    swarm = swarms[key]
                    swarm.name = src.get("name", "") or swarm.name
                    swarm.files = src.get("files", []) or swarm.files
                    swarm.total_size = src.get("total_size", swarm.total_size)
