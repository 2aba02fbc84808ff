"""Every bucket of a terms aggregation, however many: read one backend partition at a time.

A terms aggregation answers at most ``MAX_AGG_SIZE`` buckets; :func:`all_buckets` splits the
keys into partitions (``TermsAgg.partition``). Both backends split by a hash of the whole
key, so the partitions are even and their number is chosen from the key count: an estimate
from the backend's cardinality metric first, and four times finer (up to
``MAX_PARTITIONS``) when a partition comes back full. The backend aggregates one partition
at a time and Python only receives one row per key. Reads no settings.
"""

from __future__ import annotations

import math
from typing import Any

from index.backends.base import Backend
from query.model import Metric, Query, Search, TermsAgg
from query.validate import MAX_AGG_SIZE, MAX_PARTITIONS
from triage.errors import TriageError

# Keys per partition aimed at: room below the size limit for the estimate's error.
KEYS_PER_PARTITION = 7_000


async def count(backend: Backend, kind: str, query: Query) -> int:
    result = await backend.search(Search(kind, query=query, size=0))
    return int(result["hits"]["total"]["value"])


async def estimate_keys(backend: Backend, kind: str, field: str, query: Query,
                        group_field: str) -> int:
    """About how many values ``field`` has: the sum of its cardinality in each bucket of a
    low-cardinality ``group_field`` (an upper bound, up to the backend's approximation)."""
    agg = TermsAgg(group_field, size=MAX_AGG_SIZE,
                   metrics=(("n", Metric("cardinality", field, precision=10_000)),))
    result = await backend.search(Search(kind, query=query, size=0, aggs={"g": agg}))
    buckets = result["aggregations"]["g"]["buckets"]
    total = await count(backend, kind, query) if len(buckets) >= MAX_AGG_SIZE else 0
    return total or sum(int(b["n"] or 0) for b in buckets)


async def all_buckets(backend: Backend, kind: str, field: str, query: Query,
                      metrics: tuple[tuple[str, Metric], ...] = (), *, limit: int,
                      param: str = "since", group_field: str = "probe_id"
                      ) -> dict[Any, dict[str, Any]]:
    """Key -> bucket (``doc_count`` and the metrics) of every value of ``field``.

    The first split comes from :func:`estimate_keys` over ``group_field``; documents
    without that field are not estimated, and a partition that comes back full makes the
    split four times finer.
    """
    total = await count(backend, kind, query)
    if total == 0:
        return {}
    keys = await estimate_keys(backend, kind, field, query, group_field)
    parts = min(MAX_PARTITIONS, max(1, math.ceil(keys / KEYS_PER_PARTITION)))
    while True:
        rows: dict[Any, dict[str, Any]] = {}
        full = False
        for p in range(parts):
            agg = TermsAgg(field, size=MAX_AGG_SIZE, metrics=metrics, partition=p,
                           num_partitions=parts)
            result = await backend.search(Search(kind, query=query, size=0, aggs={"t": agg}))
            buckets = result["aggregations"]["t"]["buckets"]
            if len(buckets) >= MAX_AGG_SIZE:
                full = True
                break
            for b in buckets:
                rows[b["key"]] = b
            if len(rows) > limit:
                raise TriageError(param, f"more than {limit:,} peers match (triage.max_peers); "
                                  "narrow the time range")
        if not full:
            return rows
        if parts >= MAX_PARTITIONS:
            raise TriageError(param, f"more than {MAX_AGG_SIZE:,} values of {field} fall in one "
                              f"of {parts:,} partitions of the index backend; narrow the time "
                              "range")
        parts = min(MAX_PARTITIONS, parts * 4)
