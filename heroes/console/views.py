"""What each console view shows, as JSON-ready dicts: shared by the pages and the API.

Every function takes the open read :class:`~index.backends.base.Backend` and returns plain
data (keys starting with ``_`` are for templates only). Missing documents raise
:class:`NotFound`; unusable parameters raise
:class:`~heroes.console.searchreq.RequestError`. Reads no settings.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from documents import document_id
from documents.fields import identifier_type
from documents.observation import combine_probes
from heroes.console import searchreq, searchrun
from heroes.console.searchreq import ENTITY_TYPES, RequestError, SearchRequest
from heroes.console.summary import summarize, view_href
from identifiers import InvalidIdentifier, normalize_for_field
from identifiers import get as identifier
from index.backends.base import Backend
from query.model import (
    Bool,
    Search,
    SortField,
    Term,
    Terms,
    TermsAgg,
    interval_ms,
)


def canonical_infohash(raw: str) -> str:
    """The infohash a path names, in any spelling the identifier accepts (hex, base32, magnet)."""
    try:
        return identifier("infohash").parse(raw)
    except InvalidIdentifier as exc:
        raise RequestError("infohash", str(exc)) from exc


MEDIA_HASHES = ("md5", "sha1", "sha256", "pdq")
# The swarm view reads at most this many observation records (in pages) to count its peers,
# and lists at most MAX_SWARM_ROWS peers.
MAX_SWARM_RECORDS = 50_000
OBSERVATION_PAGE = 10_000
MAX_SWARM_ROWS = 500


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
    result, counts = await searchrun.run(backend, req, now)
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
        for e, r in counts.items()
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
    group = str((doc or {}).get("mirror_group") or "")
    mirrors: list[str] = []
    if group:
        members = await backend.search(
            Search(kind="service", query=Term("mirror_group", group), size=100)
        )
        mirrors = sorted(str(h["_source"]["host"]) for h in members["hits"]["hits"]
                         if h["_source"].get("host") != host)
    return {
        "host": host,
        "service": doc,
        "mirror_group": group,
        "mirrors": mirrors,
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


async def _observations_of(backend: Backend, value: str) -> tuple[list[dict[str, Any]], int]:
    """Up to MAX_SWARM_RECORDS records of the infohash (newest first), and how many exist."""
    search = Search("observation", query=Term("infohash", value), size=OBSERVATION_PAGE,
                    sort=(SortField("last_seen", "desc"),))
    records: list[dict[str, Any]] = []
    total = 0
    while len(records) < MAX_SWARM_RECORDS:
        result = await backend.search(search)
        total = max(total, _total(result))
        hits = result["hits"]["hits"]
        records.extend({"id": h["_id"], **h["_source"]} for h in hits)
        if len(hits) < search.size:
            break
        search = Search(search.kind, query=search.query, size=search.size, sort=search.sort,
                        search_after=tuple(hits[-1]["sort"]))
    return records[:MAX_SWARM_RECORDS], total


def peer_counts(rows: list[dict[str, Any]], interval: str) -> dict[str, list[dict[str, Any]]]:
    """Clients, levels and new peers per ``interval``, each peer (one row) counted once.

    ``rows`` are :func:`~documents.observation.combine_probes` rows: a peer that several
    probes saw is one row, at the highest level any of them proved. Buckets have the
    backend's shape (``key``, ``doc_count``; dates as epoch ms, empty ones left out).
    """
    clients: dict[str, int] = {}
    levels: dict[int, int] = {}
    new_peers: dict[int, int] = {}
    step = interval_ms(interval)
    for row in rows:
        client = str(row.get("client") or "")
        clients[client] = clients.get(client, 0) + 1
        level = int(row.get("level") or 0)
        levels[level] = levels.get(level, 0) + 1
        first = row.get("first_seen")
        if first:
            ms = int(datetime.fromisoformat(str(first)).timestamp() * 1000)
            new_peers[ms - ms % step] = new_peers.get(ms - ms % step, 0) + 1

    def by_count(counts: dict[Any, int], size: int) -> list[dict[str, Any]]:
        top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:size]
        return [{"key": k, "doc_count": n} for k, n in top]

    return {"clients": by_count(clients, 20), "levels": by_count(levels, 4),
            "new_peers": [{"key": k, "doc_count": n} for k, n in sorted(new_peers.items())]}


async def infohash(backend: Backend, value: str) -> dict[str, Any]:
    """A swarm: its torrent, its peers (one row per peer across probes), pages that named it.

    Clients, levels and the new-peers histogram count peers, not records: two probes that
    saw the same address and port count once, at the higher level. They are counted over
    the newest MAX_SWARM_RECORDS records (``peers_complete`` false when there are more).
    """
    value = canonical_infohash(value)
    torrent_found, oldest, pages_result, (records, total) = await asyncio.gather(
        backend.get("torrent", [document_id("torrent", [value])]),
        backend.search(
            Search(kind="observation", query=Term("infohash", value), size=1,
                   sort=(SortField("first_seen", "asc"),))
        ),
        backend.search(
            Search(
                kind="page",
                query=Term("entities.infohashes", value),
                size=50,
                sort=(SortField("fetched_at", "desc"),),
            )
        ),
        _observations_of(backend, value),
    )
    first = oldest["hits"]["hits"][0]["_source"]["first_seen"] if oldest["hits"]["hits"] else None
    now_iso = datetime.now(UTC).isoformat()
    interval = _interval(first, now_iso)
    torrent = next(iter(torrent_found.values()), None)
    if torrent is None and total == 0 and _total(pages_result) == 0:
        raise NotFound(f"nothing known about infohash {value!r}")
    rows = combine_probes(records)
    return {
        "infohash": value,
        "torrent": torrent,
        "observation_total": total,
        "peer_total": len(rows),
        "records_counted": len(records),
        "peers_complete": len(records) >= total,
        "observations": rows[:MAX_SWARM_ROWS],
        **peer_counts(rows, interval),
        "interval": interval,
        "pages": [summarize(h) for h in pages_result["hits"]["hits"]],
        "found_on": (torrent or {}).get("found_on", []),
        "hash_hits": await _hash_hits(backend, [value]),
    }


async def entity(backend: Backend, etype: str, value: str) -> dict[str, Any]:
    if etype not in ENTITY_TYPES:
        raise RequestError("type", f"{etype!r} is not one of {', '.join(ENTITY_TYPES)}")
    value = normalize_for_field(identifier_type("page", f"entities.{etype}"), value.strip())
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
