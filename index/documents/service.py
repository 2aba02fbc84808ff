"""``service``: one onion host, when it was seen and whether it answered."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from index.documents.base import MATCH_FIELDS, Document, UtcTime
from index.documents.fields import FieldType

HISTORY_LIMIT = 1000


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: UtcTime
    up: bool
    status: int | None = None
    error: str | None = None


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
    page_count: int = Field(0, ge=0)
    history: list[Check] = Field(default_factory=list)

    def merged_with(self, existing: Document) -> Service:
        if not isinstance(existing, Service):
            return self
        history = sorted({(c.at, c.up): c for c in [*existing.history, *self.history]}.values(),
                         key=lambda c: c.at)[-HISTORY_LIMIT:]
        ups = [t for t in (existing.last_up, self.last_up) if t is not None]
        newer = self if self.last_seen >= existing.last_seen else existing
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
            **self.merged_marks(existing),
        })
