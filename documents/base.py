"""The base of every document kind: validation, deterministic ids, JSON in and out.

A kind declares ``KIND``, its indexed ``FIELDS`` (dotted path -> FieldType), the fields of
its natural key, and how a newer version merges with the one already indexed. Numbers are
strict: a whole-number field (:data:`Int64`) takes a JSON integer that fits the signed 64
bits both backends store, a number field (:data:`Number`) a finite JSON number; a string,
a bool or (for whole numbers) a fraction is an error naming the field, never converted.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from documents.fields import FieldType
from errors import InvalidDocument

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_EXAMPLE = "e.g. 2026-11-28T12:00:00Z"


def _iso_only(value: Any) -> Any:
    # Lax parsing would take 5 or "1700000000" as seconds since 1970: a time must be written
    # as one, so that a number in the wrong field is an error instead of a date in 1970.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return value
    raise PydanticCustomError(
        "iso_datetime", f"expected an ISO 8601 date and time with its offset ({_EXAMPLE})"
    )


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError("utc_offset", f"time needs a UTC offset ({_EXAMPLE})")
    return value.astimezone(UTC)


# A document time: a datetime, or an ISO 8601 string with its offset; stored in UTC.
UtcTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_utc)]


def _whole_number(value: Any) -> Any:
    # Lax parsing would take "6881", 6881.0 or True for 6881 or 1: a number must be written
    # as one, in the type of its field.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError(
            "whole_number", "expected a whole number (a JSON integer, not a string, bool or "
            "fraction)")
    if not INT64_MIN <= value <= INT64_MAX:
        raise PydanticCustomError(
            "int64_range", "whole number out of range: the index stores -2^63 .. 2^63-1")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError(
            "number", "expected a number (a JSON number, not a string or bool)")
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "expected a finite number")
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise PydanticCustomError(
            "int64_range", "number out of range: the index stores -2^63 .. 2^63-1")
    return value


# A whole number of a document: an integer (never a string, bool or float) in signed 64 bits.
Int64 = Annotated[int, BeforeValidator(_whole_number)]
# A number of a document: an integer or a finite float, never a string or bool.
Number = Annotated[float, BeforeValidator(_number)]


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
    distance: Int64 | None = None  # PDQ only
    transform: str | None = None  # PDQ: which turn or mirror of the image matched
    # vPDQ only: where in the document's video the matched frames are, (start_s, end_s)
    # each (tuples: a Match is hashable), and the share of the video's frames found in the
    # entry and of the entry's found in the video (vPDQ reports both directions).
    time_ranges: tuple[tuple[float, float], ...] | None = None
    query_fraction: float | None = None
    entry_fraction: float | None = None


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
