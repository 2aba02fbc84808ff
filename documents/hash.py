"""``hash``: one flagged value on one named list.

``list_kind`` and ``list_state`` are the list's settings when the document was written
(:mod:`index.hashsets.lists`; ``flag``/``active`` on older documents), so that readers of the
index alone (the probe) can leave negative and paused lists out. A vPDQ value can be far
longer than an index term may be: its document's ``value`` is ``sha256:`` and the SHA-256 of
the canonical value, with ``frames`` and ``duration_s`` beside it; the value itself is in the
membership store only."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from documents.base import Document, Int64, UtcTime
from documents.fields import FieldType


class FlaggedHash(Document):
    KIND: ClassVar[str] = "hash"
    KEY: ClassVar[tuple[str, ...]] = ("list", "type", "value")
    TIME_FIELD: ClassVar[str] = "added_at"
    FIELDS: ClassVar[dict[str, FieldType]] = {
        "value": FieldType.KEYWORD,
        "type": FieldType.KEYWORD,
        "category": FieldType.KEYWORD,
        "list": FieldType.KEYWORD,
        "source_id": FieldType.KEYWORD,
        "added_at": FieldType.DATE,
        "list_kind": FieldType.KEYWORD,
        "list_state": FieldType.KEYWORD,
        "frames": FieldType.LONG,
        "duration_s": FieldType.DOUBLE,
    }

    value: str = Field(..., min_length=1)
    type: str = Field(..., min_length=1)
    category: str = ""
    list: str = Field(..., min_length=1)
    source_id: str = ""
    added_at: UtcTime
    list_kind: str = "flag"
    list_state: str = "active"
    frames: Int64 | None = None  # vPDQ only
    duration_s: float | None = None  # vPDQ only

    def merged_with(self, existing: Document) -> FlaggedHash:
        # Re-importing the same list keeps the first import time.
        if isinstance(existing, FlaggedHash):
            return self.model_copy(update={"added_at": min(self.added_at, existing.added_at)})
        return self
