"""Every ``service`` document of the index, page by page (no cap on their number).

Sorted by host, read ``PAGE_SIZE`` at a time with ``search_after``, so memory holds one page
of documents however many services the index knows. Reads ``[index]`` through
:class:`index.store.Store`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from documents import parse_document
from documents.service import Service
from index.store import Store
from query.model import Search, SortField

PAGE_SIZE = 1000


async def known_services(store: Store, page_size: int = PAGE_SIZE) -> AsyncIterator[Service]:
    after: tuple[object, ...] | None = None
    while True:
        result = await store.search(Search(kind="service", size=page_size,
                                           sort=(SortField("host", "asc"),),
                                           search_after=after))  # type: ignore[arg-type]
        hits = result["hits"]["hits"]
        for hit in hits:
            service = parse_document(hit["_source"])
            if isinstance(service, Service):
                yield service
        if len(hits) < page_size:
            return
        after = tuple(hits[-1]["sort"])
