"""The executable specification of the query semantics: a pure-Python evaluator over ``_source``.

:func:`evaluate` answers a :class:`~query.model.Search` over a list of ``_source``
dicts exactly as :mod:`query.model` describes it, in the result shape of
:mod:`index.backends.base`. Backends are tested against it. It is slow on purpose (a scan);
relevance scores are a constant 1.0, so only hit sets are comparable for ``_score`` sorts.
Reads no settings.
"""

from __future__ import annotations

import functools
import ipaddress
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from documents import KINDS, values_at
from documents.base import validate
from documents.fields import FieldType
from errors import InvalidDocument, QueryError
from query.analysis import phrase_terms, positioned_tokens, tokens
from query.model import (
    Bool,
    DateHistogram,
    Exists,
    Match,
    MatchAll,
    MatchPhrase,
    Prefix,
    Query,
    Range,
    Scalar,
    Search,
    SearchResult,
    SortField,
    Term,
    Terms,
    TermsAgg,
    interval_ms,
)
from query.validate import SCORE, epoch_ms, kind_fields, ms_to_iso, validate_search


def field_values(source: dict[str, Any], field: str, ftype: FieldType) -> list[Scalar]:
    """The values of a field in their canonical query form (see :mod:`query.validate`)."""
    out: list[Scalar] = []
    for value in values_at(source, field):
        if isinstance(value, dict):
            continue
        out.append(canonical(ftype, value))
    return out


def canonical(ftype: FieldType, value: Any) -> Scalar:
    """One stored value as the backends index it (dates as epoch ms, IPs canonical)."""
    if ftype is FieldType.DATE:
        return epoch_ms(value)
    if ftype is FieldType.LONG:
        return int(value)
    if ftype is FieldType.DOUBLE:
        return float(value)
    if ftype is FieldType.BOOL:
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if ftype is FieldType.IP:
        return str(ipaddress.ip_address(str(value)))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def ip_order(value: str) -> bytes:
    """Elasticsearch orders IP keys by their 16-byte (IPv4-mapped) form."""
    address = ipaddress.ip_address(value)
    if isinstance(address, ipaddress.IPv4Address):
        address = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)
    return address.packed


@dataclass
class _Doc:
    id: str
    source: dict[str, Any]


def _matcher(kind: str, query: Query) -> Callable[[_Doc], bool]:
    fields = kind_fields(kind)
    if isinstance(query, MatchAll):
        return lambda d: True
    if isinstance(query, Match):
        wanted = set(tokens(query.text))
        need_all = query.operator == "and"

        def match(d: _Doc) -> bool:
            if not wanted:
                return False
            have = {t for v in values_at(d.source, query.field) if isinstance(v, str)
                    for t in tokens(v)}
            return wanted <= have if need_all else bool(wanted & have)

        return match
    if isinstance(query, MatchPhrase):
        phrase = phrase_terms(query.text)

        def phrase_match(d: _Doc) -> bool:
            if not phrase:
                return False
            for value in values_at(d.source, query.field):
                if not isinstance(value, str):
                    continue
                at = dict(positioned_tokens(value))
                if any(all(at.get(start + off) == tok for off, tok in phrase) for start in at):
                    return True
            return False

        return phrase_match
    if isinstance(query, Term | Terms):
        ftype = fields[query.field]
        wanted_values = {query.value} if isinstance(query, Term) else set(query.values)
        return lambda d: any(v in wanted_values for v in field_values(d.source, query.field, ftype))
    if isinstance(query, Prefix):
        start = query.value
        if fields[query.field] is FieldType.TEXT:
            return lambda d: any(t.startswith(start) for v in values_at(d.source, query.field)
                                 if isinstance(v, str) for t in tokens(v))
        return lambda d: any(isinstance(v, str) and v.startswith(start)
                             for v in field_values(d.source, query.field, FieldType.KEYWORD))
    if isinstance(query, Range):
        ftype = fields[query.field]

        def in_range(v: Any) -> bool:
            return ((query.gte is None or v >= query.gte)
                    and (query.gt is None or v > query.gt)
                    and (query.lte is None or v <= query.lte)
                    and (query.lt is None or v < query.lt))

        return lambda d: any(in_range(v) for v in field_values(d.source, query.field, ftype))
    if isinstance(query, Exists):
        return lambda d: next(iter(values_at(d.source, query.field)), None) is not None
    if isinstance(query, Bool):
        return _bool_matcher(kind, query)
    raise QueryError(f"not a query: {query!r}")


def _bool_matcher(kind: str, query: Bool) -> Callable[[_Doc], bool]:
    required = [_matcher(kind, q) for q in (*query.must, *query.filter)]
    should = [_matcher(kind, q) for q in query.should]
    excluded = [_matcher(kind, q) for q in query.must_not]
    msm = query.minimum_should_match
    if msm is None:
        msm = 1 if should and not required else 0

    def match(d: _Doc) -> bool:
        if not all(m(d) for m in required) or any(m(d) for m in excluded):
            return False
        return msm == 0 or sum(1 for m in should if m(d)) >= msm

    return match


# -- sorting -------------------------------------------------------------------------------

def sort_values(source: dict[str, Any], sort: Sequence[SortField], fields: dict[str, FieldType],
                ) -> list[Scalar | None]:
    """A document's sort values: smallest value ascending, largest descending, None if absent."""
    out: list[Scalar | None] = []
    for item in sort:
        values = field_values(source, item.field, fields[item.field])
        out.append(None if not values else (min(values) if item.order == "asc" else max(values)))
    return out


def compare_keys(a: Sequence[Any], b: Sequence[Any], sort: Sequence[SortField]) -> int:
    """Compare two ``sort`` arrays (values then id): missing values last, then id ascending."""
    for item, x, y in zip(sort, a, b, strict=False):
        if x == y:
            continue
        if x is None:
            return 1
        if y is None:
            return -1
        less = x < y
        return (-1 if less else 1) if item.order == "asc" else (1 if less else -1)
    x, y = a[len(sort)], b[len(sort)]
    return (x > y) - (x < y)


# -- aggregations --------------------------------------------------------------------------

def terms_buckets(counts: dict[Scalar, int], ftype: FieldType, size: int) -> list[dict[str, Any]]:
    """Buckets ordered by count descending then key ascending, as Elasticsearch orders them."""

    def key_order(key: Any) -> Any:
        return ip_order(key) if ftype is FieldType.IP else key

    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], key_order(kv[0])))[:size]
    out = []
    for key, count in ordered:
        if ftype is FieldType.BOOL:
            out.append({"key": int(bool(key)), "key_as_string": "true" if key else "false",
                        "doc_count": count})
        else:
            out.append({"key": key, "doc_count": count})
    return out


def histogram_buckets(counts: dict[int, int]) -> list[dict[str, Any]]:
    return [{"key_as_string": ms_to_iso(key), "key": key, "doc_count": counts[key]}
            for key in sorted(counts)]


def partition_hash(key: Any) -> int:
    """The hash that splits terms keys into partitions: CRC-32 of the key's text (UTF-8)."""
    return zlib.crc32(str(key).encode())


def partition_of(key: Any, num_partitions: int) -> int:
    """The reference split of terms keys into partitions: :func:`partition_hash` modulo
    ``num_partitions``."""
    return partition_hash(key) % num_partitions


def bucket_metrics(kind: str, agg: TermsAgg, sources: Iterable[dict[str, Any]]
                   ) -> dict[str, Any]:
    """The values of ``agg.metrics`` over the sources of one bucket."""
    if not agg.metrics:
        return {}
    fields = kind_fields(kind)
    values: dict[str, list[Any]] = {name: [] for name, _ in agg.metrics}
    for source in sources:
        for name, metric in agg.metrics:
            values[name].extend(field_values(source, metric.field, fields[metric.field]))
    out: dict[str, Any] = {}
    for name, metric in agg.metrics:
        got = values[name]
        if metric.op == "cardinality":
            out[name] = len(set(got))
        elif metric.op == "sum":
            out[name] = sum(got)
        else:
            out[name] = (min(got) if metric.op == "min" else max(got)) if got else None
    return out


def _aggregate(kind: str, name: str, agg: TermsAgg | DateHistogram, docs: Iterable[_Doc]
               ) -> dict[str, Any]:
    ftype = kind_fields(kind)[agg.field]
    counts: dict[Any, int] = {}
    if isinstance(agg, TermsAgg):
        members: dict[Any, list[dict[str, Any]]] = {}
        for d in docs:
            for value in set(field_values(d.source, agg.field, ftype)):
                if agg.num_partitions > 1 and partition_of(value, agg.num_partitions) != \
                        agg.partition:
                    continue
                counts[value] = counts.get(value, 0) + 1
                if agg.metrics:
                    members.setdefault(value, []).append(d.source)
        buckets = terms_buckets(counts, ftype, agg.size)
        for b in buckets:
            key = bool(b["key"]) if ftype is FieldType.BOOL else b["key"]
            b.update(bucket_metrics(kind, agg, members.get(key, [])))
        return {"buckets": buckets}
    step = interval_ms(agg.fixed_interval)
    for d in docs:
        for key in {v // step * step for v in field_values(d.source, agg.field, ftype)}:
            counts[key] = counts.get(key, 0) + 1
    return {"buckets": histogram_buckets(counts)}


# -- the evaluator -------------------------------------------------------------------------

def evaluate(search: Search, sources: Sequence[dict[str, Any]],
             ids: Sequence[str] | None = None) -> SearchResult:
    """Answer ``search`` over ``_source`` dicts of its kind (others are skipped).

    ``ids`` gives each source's id; by default it is derived from the document's natural key.
    """
    search = validate_search(search)
    fields = kind_fields(search.kind)
    docs: list[_Doc] = []
    for i, source in enumerate(sources):
        if source.get("kind", search.kind) != search.kind:
            continue
        docs.append(_Doc(ids[i] if ids is not None else _derive_id(search.kind, source), source))
    matcher = _matcher(search.kind, search.query)
    matched = [d for d in docs if matcher(d)]
    sort = search.sort or (SortField(SCORE, "desc"),)
    field_sort = all(s.field != SCORE for s in sort)

    def key(d: _Doc) -> list[Any]:
        values: list[Any] = []
        for item in sort:
            # Relevance is not modelled: every hit scores 1.0, so only the id orders them.
            values.extend([1.0] if item.field == SCORE else sort_values(d.source, [item], fields))
        return [*values, d.id]

    keyed = [(key(d), d) for d in matched]
    cmp = functools.cmp_to_key(lambda a, b: compare_keys(a[0], b[0], sort))
    keyed.sort(key=cmp)
    if search.search_after is not None:
        cursor = list(search.search_after)
        keyed = [(k, d) for k, d in keyed if compare_keys(k, cursor, sort) > 0]
    hits = [{
        "_index": search.kind,
        "_id": d.id,
        "_score": None if field_sort else 1.0,
        "_source": d.source,
        "sort": k,
    } for k, d in keyed[: search.size]]
    result: SearchResult = {
        "took": 0,
        "timed_out": False,
        "hits": {"total": {"value": len(matched), "relation": "eq"},
                 "max_score": None if field_sort or not matched else 1.0, "hits": hits},
    }
    if search.aggs:
        result["aggregations"] = {name: _aggregate(search.kind, name, agg, matched)
                                  for name, agg in search.aggs.items()}
    return result


def _derive_id(kind: str, source: dict[str, Any]) -> str:
    try:
        return validate(KINDS[kind], source).id
    except InvalidDocument as exc:
        raise QueryError(f"reference evaluator: cannot derive the id of a {kind}: {exc}") from exc
