"""Reading clusters back from the index: the cluster of a member, and the clusters by size.

``store`` is an :class:`index.store.Store` (anything with an async ``search(Search)``).
Merged and dissolved clusters (no members) are left out. How it fails: what the backend's
search raises (:class:`~errors.BackendUnavailable`).
"""

from __future__ import annotations

from typing import Any

from documents.base import validate
from documents.cluster import Cluster
from query.model import Bool, Range, Search, SortField, Term


def _cluster(hit: dict[str, Any]) -> Cluster:
    return validate(Cluster, hit["_source"])  # type: ignore[return-value]


async def cluster_of(store: Any, key: str) -> Cluster | None:
    """The live cluster with member ``key`` (an onion, an infohash or a page id)."""
    result = await store.search(Search(
        kind="cluster", size=1,
        query=Bool(filter=(Term("members.key", key), Range("size", gte=1)))))
    hits = result["hits"]["hits"]
    return _cluster(hits[0]) if hits else None


async def cluster_by_id(store: Any, cluster_id: str) -> Cluster | None:
    result = await store.search(Search(kind="cluster", size=1,
                                       query=Term("cluster_id", cluster_id)))
    hits = result["hits"]["hits"]
    return _cluster(hits[0]) if hits else None


async def clusters(store: Any, limit: int = 50, offset: int = 0) -> tuple[int, list[Cluster]]:
    """(how many live clusters, the ``limit`` largest after ``offset``), largest first."""
    result = await store.search(Search(
        kind="cluster", size=offset + limit, query=Range("size", gte=2),
        sort=(SortField("size", "desc"), SortField("cluster_id", "asc"))))
    hits = result["hits"]["hits"][offset:offset + limit]
    return int(result["hits"]["total"]["value"]), [_cluster(h) for h in hits]
