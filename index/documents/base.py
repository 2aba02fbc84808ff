"""The base of every document kind: validation, deterministic ids, JSON in and out.

A kind declares ``KIND``, its indexed ``FIELDS`` (dotted path -> FieldType), the fields of
its natural key, and how a newer version merges with the one already indexed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from index.documents.fields import FieldType
from index.errors import InvalidDocument


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("time needs a UTC offset (e.g. 2026-11-28T12:00:00Z)")
    return value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


class Match(BaseModel):
    """Why a document is flagged: which list entry it matched, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    list: str
    type: str  # md5, sha1, sha256, infohash, pdq, btc, email, ...
    value: str  # the document's value that matched
    field: str  # where in the document, e.g. media.sha256
    category: str = ""
    entry: str = ""  # the source list's entry id
    distance: int | None = None  # PDQ only


MATCH_FIELDS: dict[str, FieldType] = {
    "flagged": FieldType.BOOL,
    "matches.list": FieldType.KEYWORD,
    "matches.type": FieldType.KEYWORD,
    "matches.category": FieldType.KEYWORD,
    "matches.value": FieldType.KEYWORD,
}


class Document(BaseModel):
    """A validated document; subclasses are the kinds of DESIGN.md."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    KIND: ClassVar[str]
    FIELDS: ClassVar[dict[str, FieldType]]
    KEY: ClassVar[tuple[str, ...]]
    # Field holding the document's time, used for time-based indices and retention.
    TIME_FIELD: ClassVar[str]

    flagged: bool = False
    matches: list[Match] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_kind(cls, data: Any) -> Any:
        # ``kind`` names the class in JSON; it is not a field of the model.
        if isinstance(data, dict) and "kind" in data:
            data = {k: v for k, v in data.items() if k != "kind"}
        return data

    @property
    def id(self) -> str:
        return document_id(self.KIND, [self._key_value(k) for k in self.KEY])

    def _key_value(self, name: str) -> Any:
        value = getattr(self, name)
        return iso(value) if isinstance(value, datetime) else value

    def source(self) -> dict[str, Any]:
        """The JSON-ready body stored in the index (``_source``)."""
        body = self.model_dump(mode="json", exclude_none=True)
        body["kind"] = self.KIND
        return body

    def merged_with(self, existing: Document) -> Document:
        """This newer version combined with the one already indexed (default: replace)."""
        return self

    def merged_marks(self, existing: Document) -> dict[str, Any]:
        """The matches of both versions: a flag, once raised, stays."""
        matches = list(dict.fromkeys([*existing.matches, *self.matches]))
        return {"matches": matches, "flagged": existing.flagged or self.flagged}

    def with_matches(self, matches: list[Match]) -> Document:
        combined = list(dict.fromkeys([*self.matches, *matches]))
        return self.model_copy(update={"matches": combined, "flagged": bool(combined)})


def document_id(kind: str, key: list[Any]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def validate(cls: type[Document], data: dict[str, Any]) -> Document:
    """Build a document or raise :class:`InvalidDocument` naming the first bad field."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(document)"
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            shown = err["input"]
            if not isinstance(shown, dict | list):
                message += f" (got {shown!r:.80})"
        raise InvalidDocument(field, message) from None
