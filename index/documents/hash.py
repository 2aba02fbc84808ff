"""``hash``: one flagged value on one named list."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from index.documents.base import Document, UtcTime
from index.documents.fields import FieldType


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
    }

    value: str = Field(..., min_length=1)
    type: str = Field(..., min_length=1)
    category: str = ""
    list: str = Field(..., min_length=1)
    source_id: str = ""
    added_at: UtcTime

    def merged_with(self, existing: Document) -> FlaggedHash:
        # Re-importing the same list keeps the first import time.
        if isinstance(existing, FlaggedHash):
            return self.model_copy(update={"added_at": min(self.added_at, existing.added_at)})
        return self
