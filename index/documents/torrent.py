"""``torrent``: an infohash with its metadata (when fetched) and the pages that named it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from index.documents.base import MATCH_FIELDS, Document, UtcTime
from index.documents.fields import FieldType


class TorrentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    size: int = Field(..., ge=0)


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
        "first_seen": FieldType.DATE,
        "metadata_at": FieldType.DATE,
        **MATCH_FIELDS,
    }

    # v1 hex when known, otherwise the v2 hex: the key peers and trackers use.
    infohash: str = Field(..., pattern=r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
    infohash_v2: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    name: str = ""
    files: list[TorrentFile] = Field(default_factory=list)
    total_size: int | None = None
    num_pieces: int | None = None
    piece_length: int | None = None
    magnet: str = ""
    found_on: list[str] = Field(default_factory=list)  # page URLs
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
            "first_seen": min(self.first_seen, existing.first_seen),
            **self.merged_marks(existing),
        })
