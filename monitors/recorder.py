"""Turn sightings into ``observation`` documents, in the spool and in the evidence log.

One observation per (infohash, ip, port) is recorded when the peer is first seen and again
whenever what we know about it grows: a higher level, a new source, a changed piece
fraction, a client name; a peer still connected is re-recorded every
``probe.observation_refresh_s`` so last_seen moves. Each recorded observation is first
appended to the probe's sealed evidence log and then, carrying that record's leaf hash
as ``chain_hash``, to the spool.

An observation of level 1 or more carries the peer's messages behind its level (the
sighting's artifacts, :mod:`monitors.artifacts`): the evidence record holds them under
``artifacts`` with their hash ``artifacts_sha256``, and the document keeps the hash, so a
record exported from the log carries the messages and the index points at them. Each
record also says what disciplined the probe's clock (``clock_source``, ``clock_offset_s``;
the record's ``clock`` holds the source's full answer, :mod:`monitors.clock`). Reads the
``probe`` settings section.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from documents import Observation
from evidence.sealedlog import SealedLog
from index.spool import Spool
from monitors.artifacts import canonical_sha256
from monitors.clock import ClockReader, ClockStatus
from monitors.peers import Sighting
from monitors.targets import Target
from telemetry.metrics import OBSERVATIONS

log = logging.getLogger(__name__)


@dataclass
class PeerRecord:
    first_seen: datetime
    last_seen: datetime
    sources: set[str]
    level: int
    have_fraction: float | None
    peer_id: str
    client: str
    ext_v: str
    verified_pieces: tuple[int, ...] = ()
    emitted_at: float = 0.0
    artifacts: dict[str, Any] | None = None


def bits_hex(bits: tuple[bool, ...]) -> str:
    """A bitfield as hex, most significant bit first (the wire order)."""
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 0x80 >> (i % 8)
    return out.hex()


class Recorder:
    """Dedupe sightings per peer and record the ones that add something."""

    def __init__(self, *, probe_id: str, version: str, spool: Spool, evidence: SealedLog,
                 target_of: Callable[[str], Target | None], refresh_s: float,
                 extra: dict[str, Any] | None = None,
                 clock: Callable[[], ClockStatus] | None = None):
        self.probe_id = probe_id
        self.version = version
        self.spool = spool
        self.evidence = evidence
        self.target_of = target_of
        self.refresh_s = refresh_s
        self.extra = extra or {}
        self.clock = clock or ClockReader()
        self.peers: dict[tuple[str, str, int], PeerRecord] = {}
        self.recorded = 0
        self.on_record: list[Callable[[Observation], None]] = []

    def add(self, sightings: Iterable[Sighting]) -> list[Observation]:
        docs = []
        now = time.monotonic()
        for s in sightings:
            changed, record = self._merge(s, now)
            if changed:
                record.emitted_at = now
                doc = self._record(s.key, s.ip, s.port, record, s.have_bits)
                if doc is not None:
                    docs.append(doc)
        if docs:
            self.spool.append(docs)
            self.recorded += len(docs)
            for doc in docs:
                OBSERVATIONS.labels(f"L{doc.level}").inc()
                for hook in self.on_record:
                    hook(doc)
        return docs

    def _merge(self, s: Sighting, now: float) -> tuple[bool, PeerRecord]:
        key = (s.key, s.ip, s.port)
        old = self.peers.get(key)
        if old is None:
            rec = PeerRecord(s.at, s.at, set(s.sources), s.level, s.have_fraction, s.peer_id,
                             s.client, s.ext_v, artifacts=s.artifacts)
            self.peers[key] = rec
            return True, rec
        changed = False
        if s.artifacts is not None:
            # The latest messages go with the next record; alone they do not make one.
            old.artifacts = s.artifacts
        if not s.sources <= old.sources:
            old.sources |= s.sources
            changed = True
        if s.level > old.level:
            old.level = s.level
            changed = True
        if s.have_fraction is not None and (old.have_fraction is None
                                            or abs(s.have_fraction - old.have_fraction) >= 0.01):
            old.have_fraction = s.have_fraction
            changed = True
        for name in ("peer_id", "client", "ext_v"):
            value = getattr(s, name)
            if value and value != getattr(old, name):
                setattr(old, name, value)
                changed = True
        old.last_seen = max(old.last_seen, s.at)
        if s.level > 0 and now - old.emitted_at >= self.refresh_s:
            changed = True
        return changed, old

    def record_verified(self, key: str, ip: str, port: int, pieces: list[int], at: datetime,
                        detail: dict[str, Any], identity: dict[str, str]) -> Observation | None:
        """Record level 3 for a peer whose pieces were verified single-source."""
        rec = self.peers.get((key, ip, port)) or PeerRecord(at, at, {"verify"}, 3, None, "", "", "")
        rec.level = 3
        for name in ("peer_id", "client", "ext_v"):
            if identity.get(name):
                setattr(rec, name, identity[name])
        rec.last_seen = at
        rec.verified_pieces = tuple(sorted({*rec.verified_pieces, *pieces}))
        self.peers[(key, ip, port)] = rec
        doc = self._record(key, ip, port, rec, (), detail)
        if doc is not None:
            self.spool.append([doc])
            self.recorded += 1
            OBSERVATIONS.labels("L3").inc()
        return doc

    def _record(self, key: str, ip: str, port: int, rec: PeerRecord, bits: tuple[bool, ...],
                detail: dict[str, Any] | None = None) -> Observation | None:
        target = self.target_of(key)
        if target is None:
            return None
        clock = self.clock()
        artifacts = rec.artifacts if rec.level >= 1 else None
        doc = Observation(
            infohash=target.v1 or target.v2 or key, infohash_v2=target.v2, ip=ip, port=port,
            sources=sorted(rec.sources), peer_id=rec.peer_id, client=rec.client, ext_v=rec.ext_v,
            have_fraction=rec.have_fraction, first_seen=rec.first_seen, last_seen=rec.last_seen,
            probe_id=self.probe_id, probe_version=self.version, level=rec.level,
            verified_pieces=list(rec.verified_pieces),
            artifacts_sha256=canonical_sha256(artifacts) if artifacts else "",
            clock_source=clock.source, clock_offset_s=clock.offset_s,
        )
        data: dict[str, Any] = {"type": "observation", "id": doc.id,
                                **doc.model_dump(mode="json", exclude={"chain_hash"})}
        if bits:
            data["bitfield"] = bits_hex(bits)
        if detail:
            data["detail"] = detail
        if artifacts:
            data["artifacts"] = artifacts
        data["clock"] = clock.to_json()
        data.update(self.extra)
        entry = self.evidence.append(data)
        return doc.model_copy(update={"chain_hash": entry["hash"]})
