"""What the CLI and the console ask of triage, over one open read backend.

:class:`Triage` loads the flagged swarms once per call, ranks (:mod:`triage.ranking`),
explains one peer (:mod:`triage.peer`) and builds its legal-request table
(:mod:`triage.export`). Reads the ``triage`` and ``enrichment`` sections and the data
directory, handed in by the caller.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from config.sections.enrichment import EnrichmentSettings
from config.sections.triage import TriageSettings
from index.backends.base import Backend
from triage import export, peer
from triage.assignments import Assignments, assignments_path
from triage.enrichment import Enricher
from triage.ranking import RankedPeer, Scope, by_prefix64, rank
from triage.sightings import sightings
from triage.swarms import SwarmCatalog


class Triage:
    def __init__(self, backend: Backend, settings: TriageSettings,
                 enrichment: EnrichmentSettings, data_dir: Path,
                 enricher: Enricher | None = None):
        self.backend = backend
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.enricher = enricher if enricher is not None else Enricher(enrichment)

    async def catalog(self) -> SwarmCatalog:
        return await SwarmCatalog.load(self.backend, self.settings)

    async def ranking(self, scope: Scope, now: datetime, *, prefix64: bool = False
                      ) -> list[RankedPeer]:
        catalog = await self.catalog()
        peers = await rank(self.backend, catalog, self.settings, scope, now)
        if prefix64:
            peers = await by_prefix64(self.backend, catalog, self.settings, scope, peers, now)
        return peers

    async def rows(self, scope: Scope, now: datetime, *, prefix64: bool = False,
                   limit: int | None = None) -> list[dict[str, Any]]:
        peers = await self.ranking(scope, now, prefix64=prefix64)
        assigned = self.assignments_all()
        out = []
        for p in peers[:limit]:
            r = peer.row(p)
            a = assigned.get(p.ip)
            r["assignment"] = a.__dict__ if a else None
            if self.enricher.enabled and "/" not in p.ip:
                r["location"] = self.enricher.lookup(p.ip)
            out.append(r)
        return out

    async def peer(self, ip: str, scope: Scope, now: datetime) -> dict[str, Any]:
        catalog = await self.catalog()
        data = await peer.detail(self.backend, catalog, self.settings, self.enricher,
                                 self.data_dir, ip, scope, now)
        store = self._assignments()
        try:
            a = store.get(ip) or (store.get(data["prefix64"]) if data["prefix64"] else None)
            data["assignment"] = a.__dict__ if a else None
            data["assignment_history"] = store.history(ip)
        finally:
            store.close()
        return data

    async def export_table(self, ip: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One row per sighting of ``ip`` in a flagged swarm, and a summary for the JSON."""
        catalog = await self.catalog()
        obs = await peer.observations_of(self.backend, ip)
        flagged = [o for o in obs if catalog.get(o["infohash"])
                   or catalog.get(o.get("infohash_v2") or "")]
        seen = [s for s in sightings(ip, self.data_dir, flagged)
                if catalog.get(s.infohash) or catalog.get(s.infohash_v2)]
        if not seen:
            raise peer.PeerNotFound(f"no sighting of {ip} in a flagged swarm")
        table = export.rows(seen, catalog)
        meta = {
            "sightings_total": len(table),
            "without_evidence_records": sum(1 for r in table if r["evidence"] == "none"),
            "times": "UTC, ISO 8601 to the second with offset",
            "location": self.enricher.lookup(ip),
        }
        return table, meta

    async def flagged_infohashes(self) -> set[str]:
        return set((await self.catalog()).swarms)

    def _assignments(self) -> Assignments:
        return Assignments(assignments_path(self.data_dir))

    def assignments_all(self) -> dict[str, Any]:
        store = self._assignments()
        try:
            return store.all()
        finally:
            store.close()

    def close(self) -> None:
        self.enricher.close()
