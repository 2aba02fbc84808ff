"""``page``: one fetched onion page, its extracted entities and the hashes of its media."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from documents.base import MATCH_FIELDS, Document, Int64, UtcTime
from documents.fields import FieldType
from documents.pivots import PIVOT_FIELDS, Pivots


class Entities(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    onions: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    btc: list[str] = Field(default_factory=list)
    xmr: list[str] = Field(default_factory=list)
    eth: list[str] = Field(default_factory=list)
    pgp: list[str] = Field(default_factory=list)  # key fingerprints, upper-case hex
    phones: list[str] = Field(default_factory=list)  # E.164
    magnets: list[str] = Field(default_factory=list)
    infohashes: list[str] = Field(default_factory=list)  # lower-case hex, v1 (40) or v2 (64)


ENTITY_TYPES = tuple(Entities.model_fields)


class Media(BaseModel):
    """Hashes of one media file; the bytes themselves are never kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: Int64 | None = None
    # The 8 PDQ hashes of the image turned and mirrored (crawler.extract.pdq.PDQ_TRANSFORMS).
    pdq_dihedral: list[str] | None = None
    size: Int64 | None = None
    content_type: str | None = None
    flagged: bool = False
    error: str | None = None
    # None on documents older than the kind; a video's hashes are of its bytes and its frames.
    kind: Literal["image", "video", "other"] | None = None
    # The hashes are of the first crawler.max_media_bytes bytes only; size is that prefix's.
    truncated: bool = False
    # vPDQ: one {"t": seconds, "pdq": 64 hex, "q": quality} per second of the video.
    vpdq: list[dict[str, Any]] | None = None
    duration_s: float | None = None


class Page(Document):
    KIND: ClassVar[str] = "page"
    KEY: ClassVar[tuple[str, ...]] = ("url", "sha256")
    TIME_FIELD: ClassVar[str] = "fetched_at"
    FIELDS: ClassVar[dict[str, FieldType]] = {
        "url": FieldType.KEYWORD,
        "host": FieldType.KEYWORD,
        "fetched_at": FieldType.DATE,
        "status": FieldType.LONG,
        "title": FieldType.TEXT,
        "text": FieldType.TEXT,
        "lang": FieldType.KEYWORD,
        "sha256": FieldType.KEYWORD,
        "links": FieldType.KEYWORD,
        "job": FieldType.KEYWORD,
        "error": FieldType.KEYWORD,
        "size": FieldType.LONG,
        **{f"entities.{name}": FieldType.KEYWORD for name in ENTITY_TYPES},
        "media.url": FieldType.KEYWORD,
        "media.md5": FieldType.KEYWORD,
        "media.sha1": FieldType.KEYWORD,
        "media.sha256": FieldType.KEYWORD,
        "media.pdq": FieldType.KEYWORD,
        "media.flagged": FieldType.BOOL,
        **PIVOT_FIELDS,
        **MATCH_FIELDS,
    }

    url: str = Field(..., min_length=8)
    host: str = ""
    fetched_at: UtcTime
    status: Int64 = Field(200, ge=0, le=999)
    title: str = ""
    text: str = ""
    lang: str = ""
    sha256: str = ""
    size: Int64 | None = None
    links: list[str] = Field(default_factory=list)
    entities: Entities = Field(default_factory=Entities)
    media: list[Media] = Field(default_factory=list)
    pivots: Pivots = Field(default_factory=Pivots)
    job: str = ""
    error: str | None = None
    # The response's validators, sent back when the page is fetched again (conditional GET).
    etag: str = ""
    last_modified: str = ""

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            url = data.get("url")
            if isinstance(url, str) and not data.get("host"):
                data["host"] = urlsplit(url).hostname or ""
        return data

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        return url
