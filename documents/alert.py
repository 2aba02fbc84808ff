"""``alert``: a rule fired on matched documents; kept, throttled and delivered."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from documents.base import Document, Int64, UtcTime
from documents.fields import FieldType


class MatchedRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    id: str
    summary: str = ""


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str
    status: Literal["queued", "sent", "failed"]
    at: UtcTime
    message_id: str = ""
    error: str = ""


class Alert(Document):
    KIND: ClassVar[str] = "alert"
    KEY: ClassVar[tuple[str, ...]] = ("rule", "key", "window_start")
    TIME_FIELD: ClassVar[str] = "created_at"
    FIELDS: ClassVar[dict[str, FieldType]] = {
        "rule": FieldType.KEYWORD,
        "rule_type": FieldType.KEYWORD,
        "key": FieldType.KEYWORD,
        "severity": FieldType.KEYWORD,
        "status": FieldType.KEYWORD,
        "created_at": FieldType.DATE,
        "first_seen": FieldType.DATE,
        "last_seen": FieldType.DATE,
        "count": FieldType.LONG,
        "summary": FieldType.TEXT,
        "matched.kind": FieldType.KEYWORD,
        "matched.id": FieldType.KEYWORD,
        "acknowledged_by": FieldType.KEYWORD,
    }

    rule: str = Field(..., min_length=1)
    rule_type: str = ""
    key: str = ""
    window_start: UtcTime
    severity: str = "high"
    status: Literal["new", "acknowledged"] = "new"
    created_at: UtcTime
    first_seen: UtcTime
    last_seen: UtcTime
    count: Int64 = Field(1, ge=1)
    summary: str = ""
    matched: list[MatchedRef] = Field(default_factory=list)
    deliveries: list[Delivery] = Field(default_factory=list)
    acknowledged_by: str = ""
    acknowledged_at: UtcTime | None = None
    comment: str = ""
