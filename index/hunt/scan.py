"""Every document of one kind, oldest first, a page at a time, resumable from a cursor.

The backend's own sorted cursor: a search sorted by the kind's time field then the id
(the tie-breaker every backend adds), continued with ``search_after`` from the last hit of
the page before, which is the cursor a checkpoint keeps. Memory holds one page whatever the
size of the index, each page is one search, and the same code serves tantivy and
Elasticsearch. ``query`` narrows the scan where the target allows (a rule's own query,
flagged documents only). A document written again during the scan keeps its time and id,
so it keeps its place; documents that arrive later are checked by the drain. A ``_source``
that is no longer valid for its kind is counted and logged, never stops the scan. Reads no
settings; the caller passes the page size.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from documents import KINDS, Document
from documents.base import validate
from errors import InvalidDocument
from index.backends.base import Backend
from query.model import MatchAll, Query, Search, SortField

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    docs: list[Document]
    cursor: tuple[Any, ...]  # the sort values of the page's last hit
    read: int  # hits on the page, valid or not
    invalid: int


def order_of(kind: str) -> tuple[SortField, ...]:
    return (SortField(KINDS[kind].TIME_FIELD, "asc"),)


async def count(backend: Backend, kind: str, query: Query | None = None) -> int:
    """Documents of ``kind`` that the scan will read."""
    result = await backend.search(Search(kind, query or MatchAll(), size=0))
    return int(result["hits"]["total"]["value"])


async def batches(
    backend: Backend,
    kind: str,
    *,
    size: int,
    after: tuple[Any, ...] | None = None,
    query: Query | None = None,
) -> AsyncIterator[Batch]:
    """The pages of ``kind`` after ``after`` (from the start when None)."""
    cls = KINDS[kind]
    while True:
        result = await backend.search(Search(kind, query or MatchAll(), size=size,
                                             sort=order_of(kind), search_after=after))
        hits = result["hits"]["hits"]
        if not hits:
            return
        docs: list[Document] = []
        invalid = 0
        for hit in hits:
            try:
                docs.append(validate(cls, hit["_source"]))
            except InvalidDocument as exc:
                invalid += 1
                log.warning("retro-hunt skips %s %s: not valid any more: %s", kind, hit["_id"],
                            exc)
        after = tuple(hits[-1]["sort"])
        yield Batch(docs, after, len(hits), invalid)
        if len(hits) < size:
            return
