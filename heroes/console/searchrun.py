"""How a console search is executed: the hits, and the aggregations beside them, cached.

A search page shows the hits and, over the whole hit set, the facets, the date histogram
and one count per entity type. The aggregations ride on the hits request and the entity
counts run beside it, all at once; their results are kept in a bounded LRU cache keyed by
what they depend on (kind, the filter query, the aggregations asked for, the entity types
counted) and by the backend's index generation for the kind, so the next page of the same
search, or the same search again before the index changes, costs one hits request. A
backend that cannot tell its generation gets no caching. Reads no settings.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime
from typing import Any

from heroes.console import searchreq
from heroes.console.searchreq import SearchRequest
from index.backends.base import Backend

# Entries hold bucket lists only (a few kB each).
CACHE_ENTRIES = 512

Aggregations = tuple[dict[str, Any], dict[str, dict[str, Any]]]


class AggregationCache:
    """A bounded least-recently-used map from a search's key to its aggregations."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        self.entries = entries
        self._items: OrderedDict[object, Aggregations] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: object) -> Aggregations | None:
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return found

    def clear(self) -> None:
        self._items.clear()

    def put(self, key: object, value: Aggregations) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.entries:
            self._items.popitem(last=False)


# One per process: the key carries the index's own identity (path and generation).
CACHE = AggregationCache()


async def run(
    backend: Backend, req: SearchRequest, now: datetime, cache: AggregationCache = CACHE
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The hits result (with ``aggregations``) and one count result per entity type."""
    full = searchreq.build_search(req, now)
    counts = searchreq.entity_count_searches(req, now)
    generation = backend.generation(req.kind)
    key = None
    if generation is not None:
        key = (generation, req.kind, repr(full.query), repr(sorted(full.aggs.items())),
               tuple(counts))
        cached = cache.get(key)
        if cached is not None:
            aggregations, count_results = cached
            result = await backend.search(searchreq.build_search(req, now, with_aggs=False))
            return {**result, "aggregations": aggregations}, count_results
    results = await asyncio.gather(
        backend.search(full), *(backend.search(s) for s in counts.values())
    )
    result = results[0]
    count_results = dict(zip(counts, results[1:], strict=True))
    if key is not None:
        cache.put(key, (result.get("aggregations", {}), count_results))
    return result, count_results
