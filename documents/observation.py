"""``observation``: one peer seen in the swarm of one infohash, graded by what was proven.

Levels: 0 address reported by a tracker, the DHT or PEX only; 1 BitTorrent handshake
completed for this infohash; 2 the peer announced pieces; 3 pieces verified from this
single peer (investigator-run verification only).

``artifacts_sha256`` is the SHA-256 of the canonical JSON of the peer's messages behind the
level (handshake, extended handshake, bitfield/HAVE summaries), which the probe's evidence
record holds beside it. ``clock_source`` names what disciplined the probe's clock when the
observation was recorded (chrony, kernel, timesyncd) or says ``unsynchronised``;
``clock_offset_s`` is that clock minus its reference, where the source tells.

The id includes ``probe_id``: two probes that see the same peer keep two records, each with
its own chain hash in its own evidence log. :func:`combine_probes` folds such records into
one row per peer for the views that show a swarm's peers.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from pydantic import Field, field_validator

from documents.base import MATCH_FIELDS, Document, Int64, Number, UtcTime
from documents.fields import FieldType


class Observation(Document):
    KIND: ClassVar[str] = "observation"
    KEY: ClassVar[tuple[str, ...]] = ("infohash", "ip", "port", "probe_id")
    TIME_FIELD: ClassVar[str] = "last_seen"
    FIELDS: ClassVar[dict[str, FieldType]] = {
        "infohash": FieldType.KEYWORD,
        "infohash_v2": FieldType.KEYWORD,
        "ip": FieldType.IP,
        "port": FieldType.LONG,
        "sources": FieldType.KEYWORD,
        "peer_id": FieldType.KEYWORD,
        "client": FieldType.KEYWORD,
        "ext_v": FieldType.KEYWORD,
        "have_fraction": FieldType.DOUBLE,
        "first_seen": FieldType.DATE,
        "last_seen": FieldType.DATE,
        "probe_id": FieldType.KEYWORD,
        "probe_version": FieldType.KEYWORD,
        "level": FieldType.LONG,
        "chain_hash": FieldType.KEYWORD,
        "artifacts_sha256": FieldType.KEYWORD,
        "clock_source": FieldType.KEYWORD,
        "clock_offset_s": FieldType.DOUBLE,
        **MATCH_FIELDS,
    }

    infohash: str = Field(..., pattern=r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
    infohash_v2: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    ip: str
    port: Int64 = Field(..., ge=1, le=65535)
    sources: list[str] = Field(default_factory=list)
    peer_id: str = ""  # raw peer id, hex
    client: str = ""  # decoded from the peer id
    ext_v: str = ""  # the extended handshake's "v"
    have_fraction: Number | None = Field(None, ge=0.0, le=1.0)
    first_seen: UtcTime
    last_seen: UtcTime
    probe_id: str = ""
    probe_version: str = ""
    level: Int64 = Field(0, ge=0, le=3)
    verified_pieces: list[Int64] = Field(default_factory=list)
    chain_hash: str = ""
    artifacts_sha256: str = Field("", pattern=r"^$|^[0-9a-f]{64}$")
    clock_source: str = ""
    clock_offset_s: Number | None = None

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"not an IP address (got {value!r:.60})") from None

    def merged_with(self, existing: Document) -> Observation:
        if not isinstance(existing, Observation):
            return self
        newer = self if self.last_seen >= existing.last_seen else existing
        return self.model_copy(update={
            "sources": sorted({*existing.sources, *self.sources}),
            "first_seen": min(self.first_seen, existing.first_seen),
            "last_seen": max(self.last_seen, existing.last_seen),
            "level": max(self.level, existing.level),
            "verified_pieces": sorted({*existing.verified_pieces, *self.verified_pieces}),
            "infohash_v2": self.infohash_v2 or existing.infohash_v2,
            "peer_id": newer.peer_id or existing.peer_id,
            "client": newer.client or existing.client,
            "ext_v": newer.ext_v or existing.ext_v,
            "artifacts_sha256": newer.artifacts_sha256 or existing.artifacts_sha256,
            "clock_source": newer.clock_source or existing.clock_source,
            "clock_offset_s": newer.clock_offset_s if newer.clock_source
            else existing.clock_offset_s,
            "have_fraction": newer.have_fraction if newer.have_fraction is not None
            else existing.have_fraction,
            **self.merged_marks(existing),
        })


def combine_probes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (infohash, ip, port) from the records of several probes, newest first.

    A row keeps the newest record's fields, the union of sources, the highest level, the
    earliest first and latest last sighting, and under ``probes`` each record's probe id,
    id and chain hash (what the evidence of each probe is checked by).
    """
    rows: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for rec in sorted(records, key=lambda r: str(r.get("last_seen", "")), reverse=True):
        key = (rec.get("infohash"), rec.get("ip"), rec.get("port"))
        mark = {"probe_id": rec.get("probe_id", ""), "id": rec.get("id", ""),
                "chain_hash": rec.get("chain_hash", ""), "level": rec.get("level", 0),
                "last_seen": rec.get("last_seen")}
        row = rows.get(key)
        if row is None:
            rows[key] = {**rec, "sources": sorted(rec.get("sources") or []), "probes": [mark]}
            continue
        row["sources"] = sorted({*row["sources"], *(rec.get("sources") or [])})
        row["level"] = max(row.get("level", 0), rec.get("level", 0))
        firsts = [str(f) for f in (row.get("first_seen"), rec.get("first_seen")) if f]
        row["first_seen"] = min(firsts) if firsts else None
        row["probes"].append(mark)
    return list(rows.values())
