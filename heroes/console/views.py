"""What each console view shows, as JSON-ready dicts: shared by the pages and the API.

Every function takes the open read :class:`~index.backends.base.Backend` and returns plain
data (keys starting with ``_`` are for templates only). Missing documents raise
:class:`NotFound`; unusable parameters raise
:class:`~heroes.console.searchreq.RequestError`. Reads no settings.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from heroes.console import searchreq
from heroes.console.searchreq import ENTITY_TYPES, RequestError, SearchRequest
from heroes.console.summary import summarize, view_href
from index.backends.base import Backend
from index.documents import document_id
from index.query.model import (
    Bool,
    DateHistogram,
    Search,
    SortField,
    Term,
    Terms,
    TermsAgg,
    interval_ms,
)

INFOHASH_RE = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
ENTITY_NORMAL = {
    "emails": str.lower,
    "onions": str.lower,
    "infohashes": str.lower,
    "pgp": str.upper,
}
MEDIA_HASHES = ("md5", "sha1", "sha256", "pdq")


class NotFound(Exception):
    """The document or object asked for does not exist."""


def _buckets(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return result.get("aggregations", {}).get(name, {}).get("buckets", [])


def _total(result: dict[str, Any]) -> int:
    return int(result["hits"]["total"]["value"])


def _sources(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": h["_id"], **h["_source"]} for h in result["hits"]["hits"]]


async def search(
    backend: Backend, req: SearchRequest, now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    interval = searchreq.choose_interval(req.since, req.until, now)
    main = searchreq.build_search(req, now)
    counts = searchreq.entity_count_searches(req, now)
    results = await asyncio.gather(
        backend.search(main), *(backend.search(s) for s in counts.values())
    )
    result = results[0]
    hits = [summarize(h) for h in result["hits"]["hits"]]
    next_after = None
    if req.sort != "relevance" and len(hits) == req.size and hits[-1]["sort"]:
        next_after = searchreq.encode_after(hits[-1]["sort"])
    current = [f"{f}:{v}" for f, v in req.filters]
    facets = {
        name: [
            {**b, "href": req.url(f=[*current, f"{fld}:{b['key']}"], after="")}
            for b in _buckets(result, f"facet:{name}")
        ]
        for name, fld in searchreq.FACETS[req.kind].items()
    }
    entity_facet = [
        {"key": e, "doc_count": _total(r), "href": req.url(has=[*req.has, e], after="")}
        for e, r in zip(counts, results[1:], strict=True)
        if _total(r)
    ]
    return {
        "request": dict(req.params()),
        "kind": req.kind,
        "total": _total(result),
        "hits": hits,
        "facets": facets,
        "entity_facet": entity_facet,
        "histogram": [
            {**b, "href": _zoom(req, b["key"], interval)} for b in _buckets(result, "histogram")
        ],
        "interval": interval,
        "next": req.url(after=next_after) if next_after else None,
        "next_after": next_after,
        "_req": req,
    }


def _zoom(req: SearchRequest, key_ms: int, interval: str) -> str:
    """The same search narrowed to one histogram bucket (the time-range facet)."""
    start = datetime.fromtimestamp(key_ms / 1000, UTC)
    end = start + timedelta(milliseconds=interval_ms(interval))
    return req.url(**{"from": start.isoformat(), "to": end.isoformat(), "after": ""})


async def _hash_hits(backend: Backend, values: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Which lists carry each value (exact lookups on the hash kind)."""
    if not values:
        return {}
    result = await backend.search(
        Search(kind="hash", query=Terms("value", tuple(values)), size=100)
    )
    hits: dict[str, list[dict[str, Any]]] = {}
    for source in _sources(result):
        hits.setdefault(source["value"], []).append(
            {
                "list": source.get("list", ""),
                "type": source.get("type", ""),
                "category": source.get("category", ""),
            }
        )
    return hits


async def page(backend: Backend, page_id: str) -> dict[str, Any]:
    found = await backend.get("page", [page_id])
    if page_id not in found:
        raise NotFound(f"no page with id {page_id!r}")
    source = found[page_id]
    values = sorted({str(m[h]) for m in source.get("media", []) for h in MEDIA_HASHES if m.get(h)})
    entities = {t: v for t, v in source.get("entities", {}).items() if v}
    return {
        "id": page_id,
        "page": source,
        "entities": entities,
        "hash_hits": await _hash_hits(backend, values),
        "why": source.get("matches", []),
    }


def _entity_aggs(size: int = 15) -> dict[str, Any]:
    return {f"entity:{t}": TermsAgg(f"entities.{t}", size=size) for t in ENTITY_TYPES}


def _entity_buckets(result: dict[str, Any], skip: tuple[str, str] | None = None) -> dict[str, Any]:
    out = {}
    for t in ENTITY_TYPES:
        buckets = [b for b in _buckets(result, f"entity:{t}") if (t, b["key"]) != skip]
        if buckets:
            out[t] = buckets
    return out


async def service(backend: Backend, host: str) -> dict[str, Any]:
    host = host.lower()
    found = await backend.get("service", [document_id("service", [host])])
    doc = next(iter(found.values()), None)
    pages_search = Search(
        kind="page",
        query=Term("host", host),
        size=50,
        sort=(SortField("fetched_at", "desc"),),
        aggs={**_entity_aggs(), "links_to": TermsAgg("entities.onions", 30)},
    )
    linked_search = Search(
        kind="page",
        query=Bool(filter=(Term("entities.onions", host),), must_not=(Term("host", host),)),
        size=0,
        aggs={"hosts": TermsAgg("host", 30)},
    )
    pages_result, linked_result = await asyncio.gather(
        backend.search(pages_search), backend.search(linked_search)
    )
    if doc is None and _total(pages_result) == 0:
        raise NotFound(f"no service or page for host {host!r}")
    return {
        "host": host,
        "service": doc,
        "history": (doc or {}).get("history", []),
        "page_total": _total(pages_result),
        "pages": [summarize(h) for h in pages_result["hits"]["hits"]],
        "entities": _entity_buckets(pages_result, ("onions", host)),
        "links_to": [b for b in _buckets(pages_result, "links_to") if b["key"] != host],
        "linked_from": _buckets(linked_result, "hosts"),
    }


def _interval(first: str | None, last: str | None) -> str:
    if not first or not last:
        return "1d"
    since, until = datetime.fromisoformat(first), datetime.fromisoformat(last)
    return searchreq.choose_interval(since, until, until)


async def infohash(backend: Backend, value: str) -> dict[str, Any]:
    value = value.lower()
    if not INFOHASH_RE.match(value):
        raise RequestError("infohash", f"{value!r} is not 40 or 64 hex digits")
    by_ih = Term("infohash", value)
    torrent_found, oldest, pages_result = await asyncio.gather(
        backend.get("torrent", [document_id("torrent", [value])]),
        backend.search(
            Search(kind="observation", query=by_ih, size=1, sort=(SortField("first_seen", "asc"),))
        ),
        backend.search(
            Search(
                kind="page",
                query=Term("entities.infohashes", value),
                size=50,
                sort=(SortField("fetched_at", "desc"),),
            )
        ),
    )
    first = oldest["hits"]["hits"][0]["_source"]["first_seen"] if oldest["hits"]["hits"] else None
    now_iso = datetime.now(UTC).isoformat()
    interval = _interval(first, now_iso)
    obs = await backend.search(
        Search(
            kind="observation",
            query=by_ih,
            size=500,
            sort=(SortField("last_seen", "desc"),),
            aggs={
                "clients": TermsAgg("client", 20),
                "levels": TermsAgg("level", 4),
                "new_peers": DateHistogram("first_seen", interval),
            },
        )
    )
    torrent = next(iter(torrent_found.values()), None)
    if torrent is None and _total(obs) == 0 and _total(pages_result) == 0:
        raise NotFound(f"nothing known about infohash {value!r}")
    return {
        "infohash": value,
        "torrent": torrent,
        "observation_total": _total(obs),
        "observations": _sources(obs),
        "clients": _buckets(obs, "clients"),
        "levels": _buckets(obs, "levels"),
        "new_peers": _buckets(obs, "new_peers"),
        "interval": interval,
        "pages": [summarize(h) for h in pages_result["hits"]["hits"]],
        "found_on": (torrent or {}).get("found_on", []),
        "hash_hits": await _hash_hits(backend, [value]),
    }


async def entity(backend: Backend, etype: str, value: str) -> dict[str, Any]:
    if etype not in ENTITY_TYPES:
        raise RequestError("type", f"{etype!r} is not one of {', '.join(ENTITY_TYPES)}")
    value = ENTITY_NORMAL.get(etype, str)(value.strip())
    by_value = Term(f"entities.{etype}", value)
    newest, oldest = await asyncio.gather(
        backend.search(
            Search(
                kind="page",
                query=by_value,
                size=100,
                sort=(SortField("fetched_at", "desc"),),
                aggs={**_entity_aggs(20), "services": TermsAgg("host", 50)},
            )
        ),
        backend.search(
            Search(kind="page", query=by_value, size=1, sort=(SortField("fetched_at", "asc"),))
        ),
    )
    total = _total(newest)
    if total == 0:
        raise NotFound(f"no page carries {etype} {value!r}")
    return {
        "type": etype,
        "value": value,
        "page_total": total,
        "first_seen": oldest["hits"]["hits"][0]["_source"].get("fetched_at"),
        "last_seen": newest["hits"]["hits"][0]["_source"].get("fetched_at"),
        "pages": [summarize(h) for h in newest["hits"]["hits"]],
        "services": _buckets(newest, "services"),
        "cooccurring": _entity_buckets(newest, (etype, value)),
    }


async def document(backend: Backend, kind: str, doc_id: str) -> dict[str, Any]:
    found = await backend.get(kind, [doc_id])
    if doc_id not in found:
        raise NotFound(f"no {kind} with id {doc_id!r}")
    source = found[doc_id]
    href = view_href(kind, doc_id, source)
    return {
        "kind": kind,
        "id": doc_id,
        "source": source,
        "view": href if not href.startswith("/doc/") else None,
    }
