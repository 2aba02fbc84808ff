"""Field types of indexed documents, shared by every backend and the query model.

``IDENTIFIER_FIELDS`` says which fields hold identifier values, and of which type (names of
:mod:`identifiers`): a query term on such a field is brought to the type's canonical form,
so every spelling of a value finds the same documents.
"""

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

# kind -> field -> identifier type. ``host`` is left out: it is the host as fetched, and a
# subdomain of an onion service is a host of its own there.
IDENTIFIER_FIELDS: dict[str, dict[str, str]] = {
    "page": {
        "entities.onions": "onion",
        "entities.emails": "email",
        "entities.btc": "btc",
        "entities.xmr": "xmr",
        "entities.eth": "eth",
        "entities.pgp": "pgp",
        "entities.phones": "phone",
        "entities.infohashes": "infohash",
        "sha256": "sha256",
        "media.md5": "md5",
        "media.sha1": "sha1",
        "media.sha256": "sha256",
        "media.pdq": "pdq",
    },
    "observation": {"infohash": "infohash", "infohash_v2": "infohash_v2"},
    "torrent": {"infohash": "infohash", "infohash_v2": "infohash_v2"},
}


def identifier_type(kind: str, field: str) -> str | None:
    """The identifier type of a field's values, or None when it holds no identifiers."""
    return IDENTIFIER_FIELDS.get(kind, {}).get(field)


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
