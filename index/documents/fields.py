"""Field types of indexed documents, shared by every backend and the query model."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    TEXT = "text"  # analysed full text: match, match_phrase
    KEYWORD = "keyword"  # exact values: term, terms, aggregations, sort
    DATE = "date"  # UTC instants: range, date_histogram, sort
    LONG = "long"
    DOUBLE = "double"
    BOOL = "bool"
    IP = "ip"  # stored and queried as a keyword by the embedded backend


NUMERIC = frozenset({FieldType.LONG, FieldType.DOUBLE, FieldType.DATE})
EXACT = frozenset(
    {FieldType.KEYWORD, FieldType.IP, FieldType.BOOL, FieldType.LONG, FieldType.DOUBLE}
)


def values_at(source: Any, path: str) -> Iterator[Any]:
    """Every value at a dotted path, looking through lists at any depth (like ES does)."""
    parts = path.split(".")

    def walk(node: Any, i: int) -> Iterator[Any]:
        if isinstance(node, list):
            for item in node:
                yield from walk(item, i)
            return
        if i == len(parts):
            if node is not None:
                yield node
            return
        if isinstance(node, dict) and parts[i] in node:
            yield from walk(node[parts[i]], i + 1)

    yield from walk(source, 0)
