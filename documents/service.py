"""``service``: one onion host, when it was seen and whether it answered.

``access`` is the service's current access state (``content``, ``queue``, ``captcha``,
``login``, ``rate-limited``, ``js-required``; empty while unknown) with ``access_why``,
``access_history`` one entry per crawl, ``last_content`` when it last served content; ``tls``
the certificate of an https onion (SHA-256 fingerprint, subject, issuer). ``simhash`` is the
64-bit SimHash of its front page's text (16 hex digits; ``simhash_bands`` its four 16-bit
quarters, the index's way to find near duplicates), ``mirror_group`` the group of services
whose front pages are near duplicates of each other (its lowest onion; empty: no mirror
known), both set at ``mirror_at``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from documents.base import MATCH_FIELDS, Document, Int64, UtcTime
from documents.fields import FieldType
from documents.pivots import PIVOT_FIELDS, Pivots

HISTORY_LIMIT = 1000


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: UtcTime
    up: bool
    status: Int64 | None = None
    error: str | None = None


class AccessCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: UtcTime
    state: str
    why: str = ""


class TlsCertificate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str
    subject: str = ""
    issuer: str = ""
    not_after: str = ""


class Service(Document):
    KIND: ClassVar[str] = "service"
    KEY: ClassVar[tuple[str, ...]] = ("host",)
    TIME_FIELD: ClassVar[str] = "last_seen"
    FIELDS: ClassVar[dict[str, FieldType]] = {
        "host": FieldType.KEYWORD,
        "first_seen": FieldType.DATE,
        "last_seen": FieldType.DATE,
        "last_up": FieldType.DATE,
        "up": FieldType.BOOL,
        "title": FieldType.TEXT,
        "server": FieldType.KEYWORD,
        "page_count": FieldType.LONG,
        "access": FieldType.KEYWORD,
        "last_content": FieldType.DATE,
        "tls.sha256": FieldType.KEYWORD,
        "simhash": FieldType.KEYWORD,
        "simhash_bands": FieldType.KEYWORD,
        "mirror_group": FieldType.KEYWORD,
        **PIVOT_FIELDS,
        **MATCH_FIELDS,
    }

    host: str = Field(..., min_length=1)
    first_seen: UtcTime
    last_seen: UtcTime
    last_up: UtcTime | None = None
    up: bool = False
    title: str = ""
    server: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    page_count: Int64 = Field(0, ge=0)
    history: list[Check] = Field(default_factory=list)
    access: str = ""
    access_why: str = ""
    access_history: list[AccessCheck] = Field(default_factory=list)
    last_content: UtcTime | None = None
    tls: TlsCertificate | None = None
    simhash: str = ""
    simhash_bands: list[str] = Field(default_factory=list)
    mirror_group: str = ""
    mirror_at: UtcTime | None = None
    # The union of its pages' pivots (documents.pivots), capped at PIVOT_LIMIT a pivot.
    pivots: Pivots = Field(default_factory=Pivots)

    def merged_with(self, existing: Document) -> Service:
        if not isinstance(existing, Service):
            return self
        history = sorted({(c.at, c.up): c for c in [*existing.history, *self.history]}.values(),
                         key=lambda c: c.at)[-HISTORY_LIMIT:]
        access_history = sorted(
            {(c.at, c.state): c for c in [*existing.access_history, *self.access_history]}.values(),
            key=lambda c: c.at)[-HISTORY_LIMIT:]
        contents = [t for t in (existing.last_content, self.last_content) if t is not None]
        ups = [t for t in (existing.last_up, self.last_up) if t is not None]
        newer = self if self.last_seen >= existing.last_seen else existing
        mirrored = max((existing, self), key=lambda s: (s.mirror_at is not None, s.mirror_at))
        return self.model_copy(update={
            "first_seen": min(self.first_seen, existing.first_seen),
            "last_seen": max(self.last_seen, existing.last_seen),
            "last_up": max(ups) if ups else None,
            "up": newer.up,
            "title": newer.title or existing.title or self.title,
            "server": newer.server or existing.server,
            "headers": newer.headers or existing.headers,
            "page_count": max(self.page_count, existing.page_count),
            "history": history,
            "access": newer.access or existing.access or self.access,
            "access_why": newer.access_why if newer.access else (
                existing.access_why if existing.access else self.access_why),
            "access_history": access_history,
            "last_content": max(contents) if contents else None,
            "tls": newer.tls or existing.tls or self.tls,
            "simhash": mirrored.simhash,
            "simhash_bands": mirrored.simhash_bands,
            "mirror_group": mirrored.mirror_group,
            "mirror_at": mirrored.mirror_at,
            "pivots": self.pivots.union(existing.pivots),
            **self.merged_marks(existing),
        })
