"""``observation``: one peer seen in the swarm of one infohash, graded by what was proven.

Levels: 0 address reported by a tracker, the DHT or PEX only; 1 BitTorrent handshake
completed for this infohash; 2 the peer announced pieces; 3 pieces verified from this
single peer (investigator-run verification only).
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from pydantic import Field, field_validator

from index.documents.base import MATCH_FIELDS, Document, UtcTime
from index.documents.fields import FieldType


class Observation(Document):
    KIND: ClassVar[str] = "observation"
    KEY: ClassVar[tuple[str, ...]] = ("infohash", "ip", "port")
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
        **MATCH_FIELDS,
    }

    infohash: str = Field(..., pattern=r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
    infohash_v2: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    ip: str
    port: int = Field(..., ge=1, le=65535)
    sources: list[str] = Field(default_factory=list)
    peer_id: str = ""  # raw peer id, hex
    client: str = ""  # decoded from the peer id
    ext_v: str = ""  # the extended handshake's "v"
    have_fraction: float | None = Field(None, ge=0.0, le=1.0)
    first_seen: UtcTime
    last_seen: UtcTime
    probe_id: str = ""
    probe_version: str = ""
    level: int = Field(0, ge=0, le=3)
    verified_pieces: list[int] = Field(default_factory=list)
    chain_hash: str = ""

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
            "have_fraction": newer.have_fraction if newer.have_fraction is not None
            else existing.have_fraction,
            **self.merged_marks(existing),
        })
