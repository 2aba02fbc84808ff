"""The query model to and from Elasticsearch's JSON search body.

- :func:`to_dsl` compiles a :class:`~query.model.Search` into the request body that
  the Elasticsearch backend sends (exact totals, the ``doc_id`` tie-breaker appended to the
  sort, exact terms aggregations through a large ``shard_size``).
- :func:`from_dsl` parses an ES-style body (the console's JSON API, tests) into a Search
  and raises :class:`~errors.QueryError` naming the part it cannot read.

Only the subset in :mod:`query.model` is understood (``prefix`` included; ``wildcard``,
``regexp`` and ``query_string`` are not); anything else is an error, not ignored. A body
nesting queries deeper than the model allows is refused while it is read, before anything
recurses further. Validation lives in :mod:`query.validate` and is re-exported here;
dates in the body take the time syntax of :mod:`config.timespec`. Reads no settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.timespec import parse_time
from documents.fields import FieldType
from errors import QueryError
from query.model import (
    MAX_DEPTH,
    Aggregation,
    Bool,
    DateHistogram,
    Exists,
    Match,
    MatchAll,
    MatchPhrase,
    Prefix,
    Query,
    Range,
    Search,
    SortField,
    Term,
    Terms,
    TermsAgg,
    interval_ms,
)
from query.validate import (
    SCORE,
    epoch_ms,
    field_type,
    kind_fields,
    validate_search,
)

__all__ = ["ID_FIELD", "from_dsl", "missing_sort_value", "to_dsl", "validate_search"]

# ES 9 refuses to sort on _id, so every backend also indexes the id in this keyword field.
ID_FIELD = "doc_id"
# Terms buckets are exact only when each shard returns all its candidates.
SHARD_SIZE = 100_000

_LONG_MAX = 2**63 - 1
_LONG_MIN = -(2**63)


def missing_sort_value(ftype: FieldType, order: str) -> int | None:
    """The sort value Elasticsearch reports for a document without the field (``missing: _last``).

    Our result shape reports ``None`` instead; the ES backend maps one to the other.
    """
    if ftype in (FieldType.LONG, FieldType.DATE):
        return _LONG_MAX if order == "asc" else _LONG_MIN
    return None


# -- model -> DSL ---------------------------------------------------------------------------

def to_dsl(search: Search) -> dict[str, Any]:
    """The Elasticsearch request body for a search (validated and normalised first)."""
    search = validate_search(search)
    body: dict[str, Any] = {
        "query": query_to_dsl(search.kind, search.query),
        "size": search.size,
        "track_total_hits": True,
        "sort": _sort_to_dsl(search),
    }
    if search.search_after is not None:
        after: list[Any] = []
        for item, value in zip(search.sort, search.search_after, strict=False):
            if value is None:
                value = missing_sort_value(field_type(search.kind, item.field), item.order)
            after.append(value)
        after.append(search.search_after[-1])
        body["search_after"] = after
    if search.aggs:
        body["aggs"] = {name: _agg_to_dsl(agg) for name, agg in search.aggs.items()}
    return body


def _sort_to_dsl(search: Search) -> list[dict[str, Any]]:
    sort = list(search.sort) or [SortField(SCORE, "desc")]
    out: list[dict[str, Any]] = []
    for item in sort:
        if item.field == SCORE:
            out.append({SCORE: {"order": item.order}})
            continue
        spec: dict[str, Any] = {"order": item.order, "missing": "_last"}
        if field_type(search.kind, item.field) is FieldType.DOUBLE:
            spec["numeric_type"] = "double"
        out.append({item.field: spec})
    out.append({ID_FIELD: {"order": "asc"}})
    return out


def query_to_dsl(kind: str, query: Query) -> dict[str, Any]:
    """One (already validated) query clause as ES DSL."""
    if isinstance(query, MatchAll):
        return {"match_all": {}}
    if isinstance(query, Match):
        return {"match": {query.field: {"query": query.text, "operator": query.operator}}}
    if isinstance(query, MatchPhrase):
        return {"match_phrase": {query.field: {"query": query.text}}}
    if isinstance(query, Term):
        return {"term": {query.field: {"value": query.value}}}
    if isinstance(query, Terms):
        return {"terms": {query.field: list(query.values)}}
    if isinstance(query, Prefix):
        return {"prefix": {query.field: {"value": query.value}}}
    if isinstance(query, Range):
        bounds: dict[str, Any] = {
            name: value for name in ("gte", "gt", "lte", "lt")
            if (value := getattr(query, name)) is not None
        }
        if field_type(kind, query.field) is FieldType.DATE:
            bounds["format"] = "epoch_millis"
        return {"range": {query.field: bounds}}
    if isinstance(query, Exists):
        return {"exists": {"field": query.field}}
    if isinstance(query, Bool):
        out: dict[str, Any] = {}
        for name in ("must", "filter", "should", "must_not"):
            clauses = getattr(query, name)
            if clauses:
                out[name] = [query_to_dsl(kind, q) for q in clauses]
        if query.minimum_should_match is not None:
            out["minimum_should_match"] = query.minimum_should_match
        return {"bool": out}
    raise QueryError(f"not a query: {query!r}")


def _agg_to_dsl(agg: Aggregation) -> dict[str, Any]:
    if isinstance(agg, TermsAgg):
        terms: dict[str, Any] = {"field": agg.field, "size": agg.size,
                                 "shard_size": max(SHARD_SIZE, agg.size)}
        if agg.num_partitions > 1:
            terms["include"] = {"partition": agg.partition,
                                "num_partitions": agg.num_partitions}
        out: dict[str, Any] = {"terms": terms}
        if agg.metrics:
            out["aggs"] = {
                name: {m.op: {"field": m.field, **({"precision_threshold": m.precision}
                                                   if m.op == "cardinality" else {})}}
                for name, m in agg.metrics}
        return out
    # In milliseconds: Elasticsearch's fixed_interval has no weeks, the model's durations do.
    return {"date_histogram": {"field": agg.field,
                               "fixed_interval": f"{interval_ms(agg.fixed_interval)}ms",
                               "min_doc_count": 1}}


# -- DSL -> model ---------------------------------------------------------------------------

_BODY_KEYS = {"query", "size", "sort", "search_after", "aggs", "aggregations", "track_total_hits"}


def from_dsl(kind: str, body: dict[str, Any], now: datetime | None = None) -> Search:
    """Parse an ES-style search body for ``kind``; relative dates are resolved against ``now``.

    Raises :class:`QueryError` naming the bad part (e.g. ``query.bool.must[1].term``).
    """
    kind_fields(kind)
    if not isinstance(body, dict):
        raise QueryError(f"search body must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise QueryError(f"search body: unsupported key(s) {', '.join(map(repr, unknown))}")
    if "aggs" in body and "aggregations" in body:
        raise QueryError("search body: give aggs or aggregations, not both")
    tth = body.get("track_total_hits", True)
    if tth is not True:
        raise QueryError(f"track_total_hits: totals are always exact; got {tth!r}")
    parser = _Parser(kind, now)
    query = parser.query(body["query"], "query") if "query" in body else MatchAll()
    size = body.get("size", 10)
    if isinstance(size, bool) or not isinstance(size, int):
        raise QueryError(f"size: expected a whole number, got {size!r}")
    sort = parser.sort(body.get("sort", []))
    after = body.get("search_after")
    if after is not None and not isinstance(after, list):
        raise QueryError(f"search_after: expected a list, got {after!r}")
    aggs_body = body.get("aggs", body.get("aggregations", {}))
    aggs = parser.aggs(aggs_body)
    search = Search(kind=kind, query=query, size=size, sort=sort,
                    search_after=tuple(after) if after is not None else None, aggs=aggs)
    return validate_search(search)


class _Parser:
    def __init__(self, kind: str, now: datetime | None):
        self.kind = kind
        self.now = now

    def query(self, node: Any, where: str, depth: int = 1) -> Query:
        if depth > MAX_DEPTH:
            raise QueryError(f"{where[:120]}: queries nest deeper than {MAX_DEPTH} levels")
        if not isinstance(node, dict) or len(node) != 1:
            raise QueryError(
                f"{where}: expected an object with exactly one query type, got {node!r:.200}")
        ((op, spec),) = node.items()
        here = f"{where}.{op}"
        if op == "bool":
            return self.q_bool(spec, here, depth)
        handler = getattr(self, f"q_{op}", None)
        if handler is None:
            raise QueryError(
                f"{where}: unsupported query type {op!r:.80}; supported: bool, match, "
                "match_phrase, term, terms, prefix, range, exists, match_all"
            )
        return handler(spec, here)

    def _one_field(self, spec: Any, where: str) -> tuple[str, Any]:
        if not isinstance(spec, dict) or len(spec) != 1:
            raise QueryError(f"{where}: expected {{field: ...}} with one field, got {spec!r:.200}")
        ((name, value),) = spec.items()
        try:
            field_type(self.kind, name)
        except QueryError as exc:
            raise QueryError(f"{where}: {exc}") from None
        return name, value

    @staticmethod
    def _options(value: Any, main: str, allowed: set[str], where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            return {main: value}
        unknown = sorted(set(value) - allowed - {main})
        if unknown:
            raise QueryError(f"{where}: unsupported option(s) {', '.join(map(repr, unknown))}")
        if main not in value:
            raise QueryError(f"{where}: missing {main!r}")
        return value

    def q_match_all(self, spec: Any, where: str) -> Query:
        if spec not in ({}, None):
            raise QueryError(f"{where}: takes no options, got {spec!r:.200}")
        return MatchAll()

    def q_match(self, spec: Any, where: str) -> Query:
        name, value = self._one_field(spec, where)
        opts = self._options(value, "query", {"operator"}, f"{where}.{name}")
        if not isinstance(opts["query"], str):
            raise QueryError(f"{where}.{name}: query must be text, got {opts['query']!r}")
        operator = str(opts.get("operator", "or")).lower()
        if operator not in ("or", "and"):
            raise QueryError(f"{where}.{name}.operator: {opts.get('operator')!r} is not or/and")
        return Match(name, opts["query"], operator)  # type: ignore[arg-type]

    def q_match_phrase(self, spec: Any, where: str) -> Query:
        name, value = self._one_field(spec, where)
        opts = self._options(value, "query", {"slop"}, f"{where}.{name}")
        if opts.get("slop", 0) != 0:
            raise QueryError(f"{where}.{name}.slop: only slop 0 is supported, got {opts['slop']!r}")
        if not isinstance(opts["query"], str):
            raise QueryError(f"{where}.{name}: query must be text, got {opts['query']!r}")
        return MatchPhrase(name, opts["query"])

    def q_term(self, spec: Any, where: str) -> Query:
        name, value = self._one_field(spec, where)
        opts = self._options(value, "value", set(), f"{where}.{name}")
        if isinstance(opts["value"], dict | list) or opts["value"] is None:
            raise QueryError(f"{where}.{name}: expected one value, got {opts['value']!r:.200}")
        return Term(name, opts["value"])

    def q_terms(self, spec: Any, where: str) -> Query:
        name, value = self._one_field(spec, where)
        if not isinstance(value, list) or any(isinstance(v, dict | list) or v is None
                                              for v in value):
            raise QueryError(f"{where}.{name}: expected a list of values, got {value!r:.200}")
        return Terms(name, tuple(value))

    def q_prefix(self, spec: Any, where: str) -> Query:
        name, value = self._one_field(spec, where)
        opts = self._options(value, "value", set(), f"{where}.{name}")
        if not isinstance(opts["value"], str):
            raise QueryError(f"{where}.{name}: expected the start of a value as text, "
                             f"got {opts['value']!r:.200}")
        return Prefix(name, opts["value"])

    def q_exists(self, spec: Any, where: str) -> Query:
        if not isinstance(spec, dict) or set(spec) != {"field"}:
            raise QueryError(f"{where}: expected {{\"field\": name}}, got {spec!r:.200}")
        try:
            field_type(self.kind, spec["field"])
        except QueryError as exc:
            raise QueryError(f"{where}: {exc}") from None
        return Exists(spec["field"])

    def q_range(self, spec: Any, where: str) -> Query:
        name, value = self._one_field(spec, where)
        here = f"{where}.{name}"
        if not isinstance(value, dict):
            raise QueryError(f"{here}: expected {{gte|gt|lte|lt: value}}, got {value!r:.200}")
        unknown = sorted(set(value) - {"gte", "gt", "lte", "lt", "format"})
        if unknown:
            raise QueryError(f"{here}: unsupported option(s) {', '.join(map(repr, unknown))}")
        ftype = field_type(self.kind, name)
        fmt = value.get("format")
        if fmt is not None and (ftype is not FieldType.DATE or fmt not in (
                "epoch_millis", "epoch_second", "strict_date_optional_time")):
            raise QueryError(f"{here}.format: unsupported format {fmt!r}")
        bounds: dict[str, Any] = {}
        for key in ("gte", "gt", "lte", "lt"):
            if key not in value or value[key] is None:
                continue
            raw = value[key]
            if ftype is FieldType.DATE:
                bounds[key] = self._date_bound(raw, fmt, f"{here}.{key}")
            else:
                bounds[key] = raw
        return Range(name, **bounds)

    def _date_bound(self, raw: Any, fmt: str | None, where: str) -> Any:
        if isinstance(raw, bool):
            raise QueryError(f"{where}: {raw!r} is not a date")
        if isinstance(raw, int | float):
            return epoch_ms(raw * 1000 if fmt == "epoch_second" else raw)
        if isinstance(raw, str):
            if raw.lstrip("-").isdigit() and fmt in ("epoch_millis", "epoch_second"):
                number = int(raw)
                return number * 1000 if fmt == "epoch_second" else number
            try:
                return parse_time(raw, self.now)
            except QueryError as exc:
                raise QueryError(f"{where}: {exc}") from None
        raise QueryError(f"{where}: {raw!r} is not a date")

    def q_bool(self, spec: Any, where: str, depth: int = 1) -> Query:
        if not isinstance(spec, dict):
            raise QueryError(f"{where}: expected an object, got {spec!r:.200}")
        unknown = sorted(set(spec) - {"must", "filter", "should", "must_not",
                                      "minimum_should_match"})
        if unknown:
            raise QueryError(f"{where}: unsupported key(s) {', '.join(map(repr, unknown))}")
        parts: dict[str, tuple[Query, ...]] = {}
        for occur in ("must", "filter", "should", "must_not"):
            clauses = spec.get(occur, [])
            if isinstance(clauses, dict):
                clauses = [clauses]
            if not isinstance(clauses, list):
                raise QueryError(
                    f"{where}.{occur}: expected a list of queries, got {clauses!r:.200}")
            parts[occur] = tuple(self.query(q, f"{where}.{occur}[{i}]", depth + 1)
                                 for i, q in enumerate(clauses))
        msm = spec.get("minimum_should_match")
        if isinstance(msm, str) and msm.isdigit():
            msm = int(msm)
        if msm is not None and (isinstance(msm, bool) or not isinstance(msm, int)):
            raise QueryError(f"{where}.minimum_should_match: expected a whole number, got {msm!r}")
        return Bool(**parts, minimum_should_match=msm)

    def sort(self, node: Any) -> tuple[SortField, ...]:
        items = node if isinstance(node, list) else [node]
        out: list[SortField] = []
        for i, item in enumerate(items):
            where = f"sort[{i}]"
            if isinstance(item, str):
                name, order = item, ("desc" if item == SCORE else "asc")
            elif isinstance(item, dict) and len(item) == 1:
                ((name, spec),) = item.items()
                if isinstance(spec, str):
                    order = spec
                elif isinstance(spec, dict) and set(spec) <= {"order", "missing"}:
                    order = spec.get("order", "desc" if name == SCORE else "asc")
                    if spec.get("missing", "_last") != "_last":
                        raise QueryError(f"{where}.{name}.missing: only _last is supported")
                else:
                    raise QueryError(f"{where}.{name}: expected asc/desc or {{\"order\": ...}}")
            else:
                raise QueryError(
                    f"{where}: expected a field name or {{field: order}}, got {item!r:.200}")
            if order not in ("asc", "desc"):
                raise QueryError(f"{where}.{name}: order {order!r} is not asc/desc")
            if name in (ID_FIELD, "_id"):
                # The id tie-breaker is implicit; accept it when written out, last and ascending.
                if i != len(items) - 1 or order != "asc":
                    raise QueryError(f"{where}: the id tie-breaker can only come last, ascending")
                continue
            if name != SCORE:
                try:
                    field_type(self.kind, name)
                except QueryError as exc:
                    raise QueryError(f"{where}: {exc}") from None
            out.append(SortField(name, order))
        return tuple(out)

    def aggs(self, node: Any) -> dict[str, Aggregation]:
        if not isinstance(node, dict):
            raise QueryError(f"aggs: expected an object of named aggregations, got {node!r:.200}")
        out: dict[str, Aggregation] = {}
        for name, spec in node.items():
            where = f"aggs.{name}"
            if not isinstance(spec, dict) or len(spec) != 1:
                raise QueryError(
                    f"{where}: expected exactly one aggregation type, got {spec!r:.200}")
            ((agg_type, opts),) = spec.items()
            if not isinstance(opts, dict) or "field" not in opts:
                raise QueryError(f"{where}.{agg_type}: expected an object with a field")
            if agg_type == "terms":
                unknown = sorted(set(opts) - {"field", "size", "shard_size"})
                if unknown:
                    raise QueryError(
                        f"{where}.terms: unsupported option(s) {', '.join(map(repr, unknown))}")
                out[name] = TermsAgg(opts["field"], opts.get("size", 10))
            elif agg_type == "date_histogram":
                unknown = sorted(set(opts) - {"field", "fixed_interval", "min_doc_count"})
                if unknown:
                    raise QueryError(
                        f"{where}.date_histogram: unsupported option(s) "
                        f"{', '.join(map(repr, unknown))} (only fixed_interval, in UTC)")
                if opts.get("min_doc_count", 1) != 1:
                    raise QueryError(f"{where}.date_histogram.min_doc_count: only 1 is supported")
                if "fixed_interval" not in opts:
                    raise QueryError(f"{where}.date_histogram: missing 'fixed_interval'")
                out[name] = DateHistogram(opts["field"], opts["fixed_interval"])
            else:
                raise QueryError(f"{where}: unsupported aggregation {agg_type!r}; "
                                 "supported: terms, date_histogram")
        return out
