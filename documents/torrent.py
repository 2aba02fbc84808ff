"""``torrent``: an infohash with its metadata (when fetched) and how it was found.

``found_on`` lists the pages that named it; ``found_by`` the other ways it was found, e.g.
``{"method": "dht-sample", "at": ..., "node": "ip:port"}`` for an infohash a DHT node
handed out in a BEP 51 sample. Both are kept across updates (a discovered torrent later
named on a page keeps both). ``swarm_seeds``/``swarm_peers`` are the BEP 33 scrape estimate
of the swarm's size (DHT nodes that support it), from ``swarm_estimated_at``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from documents.base import MATCH_FIELDS, Document, Int64, UtcTime
from documents.fields import FieldType


class TorrentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    size: Int64 = Field(..., ge=0)


class FoundBy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str  # dht-sample
    at: UtcTime
    node: str = ""  # the DHT node (ip:port) whose sample named it


class Torrent(Document):
    KIND: ClassVar[str] = "torrent"
    KEY: ClassVar[tuple[str, ...]] = ("infohash",)
    TIME_FIELD: ClassVar[str] = "first_seen"
    FIELDS: ClassVar[dict[str, FieldType]] = {
        "infohash": FieldType.KEYWORD,
        "infohash_v2": FieldType.KEYWORD,
        "name": FieldType.TEXT,
        "files.path": FieldType.TEXT,
        "total_size": FieldType.LONG,
        "found_on": FieldType.KEYWORD,
        "found_by.method": FieldType.KEYWORD,
        "found_by.node": FieldType.KEYWORD,
        "swarm_seeds": FieldType.LONG,
        "swarm_peers": FieldType.LONG,
        "first_seen": FieldType.DATE,
        "metadata_at": FieldType.DATE,
        **MATCH_FIELDS,
    }

    # v1 hex when known, otherwise the v2 hex: the key peers and trackers use.
    infohash: str = Field(..., pattern=r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
    infohash_v2: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    name: str = ""
    files: list[TorrentFile] = Field(default_factory=list)
    total_size: Int64 | None = None
    num_pieces: Int64 | None = None
    piece_length: Int64 | None = None
    magnet: str = ""
    found_on: list[str] = Field(default_factory=list)  # page URLs
    found_by: list[FoundBy] = Field(default_factory=list)
    swarm_seeds: Int64 | None = Field(None, ge=0)
    swarm_peers: Int64 | None = Field(None, ge=0)
    swarm_estimated_at: UtcTime | None = None
    first_seen: UtcTime
    metadata_at: UtcTime | None = None

    def merged_with(self, existing: Document) -> Torrent:
        if not isinstance(existing, Torrent):
            return self
        meta = self if self.metadata_at else existing
        return self.model_copy(update={
            "infohash_v2": self.infohash_v2 or existing.infohash_v2,
            "name": meta.name or self.name or existing.name,
            "files": meta.files or existing.files,
            "total_size": meta.total_size if meta.total_size is not None else existing.total_size,
            "num_pieces": meta.num_pieces or existing.num_pieces,
            "piece_length": meta.piece_length or existing.piece_length,
            "metadata_at": meta.metadata_at,
            "magnet": self.magnet or existing.magnet,
            "found_on": sorted({*existing.found_on, *self.found_on}),
            "found_by": _first_per_method([*existing.found_by, *self.found_by]),
            **_newer_estimate(self, existing),
            "first_seen": min(self.first_seen, existing.first_seen),
            **self.merged_marks(existing),
        })


def _first_per_method(found: list[FoundBy]) -> list[FoundBy]:
    first: dict[str, FoundBy] = {}
    for f in sorted(found, key=lambda f: f.at):
        first.setdefault(f.method, f)
    return list(first.values())


def _newer_estimate(a: Torrent, b: Torrent) -> dict[str, object]:
    dated = [t for t in (a, b) if t.swarm_estimated_at is not None]
    if not dated:
        return {}
    newest = max(dated, key=lambda t: t.swarm_estimated_at)  # type: ignore[arg-type, return-value]
    return {"swarm_seeds": newest.swarm_seeds, "swarm_peers": newest.swarm_peers,
            "swarm_estimated_at": newest.swarm_estimated_at}
