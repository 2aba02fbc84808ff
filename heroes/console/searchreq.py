"""A console search as request parameters, and the model :class:`Search` it becomes.

Pure functions: parameters in (the URL of a shareable search), a validated
:class:`SearchRequest` or a :class:`RequestError` naming the parameter out; then the
:class:`~query.model.Search` with its facets and date histogram. ``from``/``to`` take the
one time syntax of :mod:`config.timespec` (``7d``, ``now-12h``, ISO 8601), like the query
string, the CLI and alert rules. Reads no settings.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from config.timespec import parse_time
from documents import KINDS
from documents.fields import FieldType
from errors import QueryError
from query.model import (
    Bool,
    DateHistogram,
    Exists,
    Query,
    Range,
    Search,
    SortField,
    Term,
    TermsAgg,
)
from query.querystring import parse_query_string

KIND_ORDER = ("page", "service", "observation", "torrent", "hash", "alert")

# Facets per kind: name shown -> field aggregated (a terms aggregation each).
FACETS: dict[str, dict[str, str]] = {
    "page": {"service": "host", "lang": "lang", "list hit": "matches.list", "status": "status"},
    "service": {"server": "server", "list hit": "matches.list"},
    "observation": {
        "level": "level",
        "client": "client",
        "source": "sources",
        "list hit": "matches.list",
    },
    "torrent": {"list hit": "matches.list"},
    "hash": {"list": "list", "type": "type", "category": "category"},
    "alert": {"rule": "rule", "severity": "severity", "status": "status"},
}
# Pages also facet on which entity types they carry (one existence count per type).
ENTITY_TYPES = ("onions", "emails", "btc", "xmr", "eth", "pgp", "phones", "magnets", "infohashes")
SORTS = ("relevance", "newest", "oldest")
MAX_SIZE = 100
# A cursor holds one sort value and an id: far below this.
MAX_CURSOR = 1024


class RequestError(Exception):
    """A search parameter is unusable; ``param`` names it and the message says why."""

    def __init__(self, param: str, message: str):
        self.param = param
        self.message = message
        super().__init__(f"{param}: {message}")


@dataclass(frozen=True)
class SearchRequest:
    kind: str = "page"
    q: str = ""
    filters: tuple[tuple[str, str], ...] = ()  # (field, value), AND-ed
    has: tuple[str, ...] = ()  # entity types a page must carry
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "relevance"
    after: tuple[Any, ...] | None = None
    size: int = 20
    raw_since: str = ""
    raw_until: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """URL parameters that reproduce this search (with ``changes`` applied)."""
        values: dict[str, Any] = {
            "kind": self.kind,
            "q": self.q,
            "sort": self.sort,
            "from": self.raw_since,
            "to": self.raw_until,
            "size": str(self.size) if self.size != 20 else "",
            "f": [f"{k}:{v}" for k, v in self.filters],
            "has": list(self.has),
            "after": encode_after(self.after) if self.after else "",
        }
        values.update(changes)
        out: list[tuple[str, str]] = []
        for key, value in values.items():
            for item in value if isinstance(value, list) else [value]:
                if item not in ("", None) and not (key == "sort" and item == "relevance"):
                    out.append((key, str(item)))
        return out

    def url(self, base: str = "/search", **changes: Any) -> str:
        return f"{base}?{urlencode(self.params(**changes))}"


def encode_after(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_after(token: str) -> tuple[Any, ...]:
    if len(token) > MAX_CURSOR:
        raise RequestError("after", f"not a paging cursor: {token[:40]!r}... is too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise RequestError("after", f"not a paging cursor: {token[:40]!r}") from exc
    if not isinstance(values, list) or not all(
        isinstance(v, str | int | float) or v is None for v in values
    ):
        raise RequestError("after", f"not a paging cursor: {token[:40]!r}")
    return tuple(values)


def _time_param(param: str, text: str, now: datetime) -> datetime | None:
    if not text.strip():
        return None
    try:
        return parse_time(text, now)
    except QueryError as exc:
        raise RequestError(param, str(exc)) from exc


def _one(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value)


def _many(params: Mapping[str, Any], name: str) -> list[str]:
    getall = getattr(params, "getall", None)
    if getall is not None:
        return [str(v) for v in getall(name, [])]
    value = params.get(name, [])
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def parse_request(params: Mapping[str, Any], now: datetime | None = None) -> SearchRequest:
    """Validate URL parameters (``kind q f has from to sort after size``)."""
    now = now or datetime.now(UTC)
    kind = _one(params, "kind") or "page"
    if kind not in KINDS:
        raise RequestError("kind", f"{kind!r} is not one of {', '.join(KIND_ORDER)}")
    filters: list[tuple[str, str]] = []
    allowed = set(FACETS.get(kind, {}).values())
    for item in _many(params, "f"):
        name, sep, value = item.partition(":")
        if not sep or name not in allowed:
            raise RequestError(
                "f",
                f"{item!r} is not field:value with a facet field of {kind} "
                f"({', '.join(sorted(allowed)) or 'none'})",
            )
        filters.append((name, value))
    has = tuple(_many(params, "has"))
    for entity in has:
        if kind != "page" or entity not in ENTITY_TYPES:
            raise RequestError(
                "has", f"{entity!r} is not an entity type of pages ({', '.join(ENTITY_TYPES)})"
            )
    sort = _one(params, "sort") or "relevance"
    if sort not in SORTS:
        raise RequestError("sort", f"{sort!r} is not one of {', '.join(SORTS)}")
    size_text = _one(params, "size") or "20"
    if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_SIZE:
        raise RequestError("size", f"{size_text!r} is not a number from 1 to {MAX_SIZE}")
    after_text = _one(params, "after")
    after = decode_after(after_text) if after_text else None
    if after is not None and sort == "relevance":
        raise RequestError("after", "paging with a cursor needs sort=newest or sort=oldest")
    raw_since, raw_until = _one(params, "from"), _one(params, "to")
    since = _time_param("from", raw_since, now)
    until = _time_param("to", raw_until, now)
    if since and until and since >= until:
        raise RequestError("to", f"{raw_until!r} is not after {raw_since!r}")
    q = _one(params, "q")
    return SearchRequest(
        kind=kind,
        q=q,
        filters=tuple(filters),
        has=has,
        since=since,
        until=until,
        sort=sort,
        after=after,
        size=int(size_text),
        raw_since=raw_since,
        raw_until=raw_until,
    )


def choose_interval(since: datetime | None, until: datetime | None, now: datetime) -> str:
    """A fixed interval giving at most about 120 bars over the range (1 day when open)."""
    if since is None:
        return "1d"
    span = ((until or now) - since).total_seconds()
    for spec, seconds in (
        ("1m", 60),
        ("5m", 300),
        ("15m", 900),
        ("1h", 3600),
        ("3h", 10800),
        ("6h", 21600),
        ("12h", 43200),
        ("1d", 86400),
        ("7d", 604800),
    ):
        if span / seconds <= 120:
            return spec
    return "30d"


def _coerce(kind: str, name: str, value: str) -> str | int | float | bool:
    ftype = KINDS[kind].FIELDS[name]
    try:
        if ftype == FieldType.LONG:
            return int(value)
        if ftype == FieldType.DOUBLE:
            return float(value)
    except ValueError:
        raise RequestError("f", f"{name} takes a number, got {value!r}") from None
    if ftype == FieldType.BOOL:
        return value.lower() == "true"
    return value


def filter_query(req: SearchRequest, now: datetime) -> Query:
    """The query text AND the facet filters AND the time range."""
    try:
        text_query = parse_query_string(req.q, req.kind, now)
    except QueryError as exc:
        raise RequestError("q", str(exc)) from exc
    filters: list[Query] = [Term(f, _coerce(req.kind, f, v)) for f, v in req.filters]
    filters += [Exists(f"entities.{e}") for e in req.has]
    time_field = KINDS[req.kind].TIME_FIELD
    if req.since or req.until:
        filters.append(Range(time_field, gte=req.since, lt=req.until))
    if not filters:
        return text_query
    return Bool(must=(text_query,), filter=tuple(filters))


def build_search(
    req: SearchRequest, now: datetime | None = None, *, with_aggs: bool = True
) -> Search:
    now = now or datetime.now(UTC)
    time_field = KINDS[req.kind].TIME_FIELD
    if req.sort == "relevance":
        sort: tuple[SortField, ...] = ()
    else:
        sort = (SortField(time_field, "desc" if req.sort == "newest" else "asc"),)
    aggs: dict[str, Any] = {}
    if with_aggs:
        aggs = {f"facet:{name}": TermsAgg(fld, size=10) for name, fld in FACETS[req.kind].items()}
        aggs["histogram"] = DateHistogram(time_field, choose_interval(req.since, req.until, now))
    return Search(
        kind=req.kind,
        query=filter_query(req, now),
        size=req.size,
        sort=sort,
        search_after=req.after,
        aggs=aggs,
    )


def entity_count_searches(req: SearchRequest, now: datetime | None = None) -> dict[str, Search]:
    """For pages: one count per entity type, within the current search (the entity facet)."""
    if req.kind != "page":
        return {}
    now = now or datetime.now(UTC)
    base = filter_query(req, now)
    return {
        e: Search(kind="page", query=Bool(must=(base,), filter=(Exists(f"entities.{e}"),)), size=0)
        for e in ENTITY_TYPES
        if e not in req.has
    }
