"""Check a :class:`~query.model.Search` against its kind's fields, and normalise its values.

Every backend calls :func:`validate_search` first, so a query that one backend accepts is
accepted by all of them, and each receives values already in one canonical form:

- term values become the field's type (``str`` for KEYWORD/IP with IPs in canonical form,
  ``int`` for LONG, ``float`` for DOUBLE, ``bool`` for BOOL, epoch milliseconds for DATE);
- range bounds on DATE fields become epoch milliseconds (floored), on LONG/DOUBLE numbers;
- ``search_after`` values become the sort fields' types (dates in epoch ms), ending with the id.

Which operator suits which field type:

====================  =================================================
match, match_phrase   TEXT
term, terms           KEYWORD, IP, BOOL, LONG, DOUBLE, DATE
prefix                KEYWORD, TEXT (lower-cased, one word)
range                 LONG, DOUBLE, DATE
exists                any field
terms aggregation     KEYWORD, IP, BOOL, LONG
date_histogram        DATE
sort                  KEYWORD, LONG, DOUBLE, DATE (and ``_score``)
====================  =================================================

Relative dates (``now-7d``) are resolved by :func:`config.timespec.parse_time` before a query
reaches a backend; every date must lie in the years 1 to 9999. A query deeper or larger than
the limits of :mod:`query.model` is refused before it is walked recursively. Reads no settings.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import replace
from datetime import datetime
from typing import Any

from config.timespec import check_ms, from_ms, parse_time, to_ms
from documents import KINDS
from documents.fields import NUMERIC, FieldType, identifier_type
from errors import QueryError
from identifiers import normalize_for_field, normalize_prefix_for_field
from query.analysis import tokens, word_prefix
from query.model import (
    MAX_CLAUSES,
    MAX_DEPTH,
    MAX_PREFIX_BYTES,
    MAX_TERMS,
    Aggregation,
    Bool,
    DateHistogram,
    Exists,
    Match,
    MatchAll,
    MatchPhrase,
    Metric,
    Prefix,
    Query,
    Range,
    Scalar,
    Search,
    SortField,
    Term,
    Terms,
    TermsAgg,
    interval_ms,
)
from query.pivots import is_pivot, pivot_field

MAX_SIZE = 10_000  # like Elasticsearch's index.max_result_window
MAX_AGG_SIZE = 10_000
SCORE = "_score"
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

TEXT_ONLY = frozenset({FieldType.TEXT})
TERM_TYPES = frozenset(FieldType) - TEXT_ONLY
RANGE_TYPES = frozenset({FieldType.LONG, FieldType.DOUBLE, FieldType.DATE})
PREFIX_TYPES = frozenset({FieldType.KEYWORD, FieldType.TEXT})
TERMS_AGG_TYPES = frozenset({FieldType.KEYWORD, FieldType.IP, FieldType.BOOL, FieldType.LONG})
SORT_TYPES = frozenset({FieldType.KEYWORD, FieldType.LONG, FieldType.DOUBLE, FieldType.DATE})



def epoch_ms(value: Any) -> int:
    """Epoch milliseconds (floored) of a datetime, a time string or an int already in ms."""
    if isinstance(value, bool):
        raise QueryError(f"expected a date, got {value!r}")
    if isinstance(value, int):
        return check_ms(value, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QueryError(f"expected a date, got {value!r}")
        return check_ms(math.floor(value), value)
    if not isinstance(value, str | datetime):
        raise QueryError(f"expected a date, got {value!r}")
    return to_ms(parse_time(value))


def ms_to_iso(ms: int) -> str:
    """The ISO form Elasticsearch gives a date bucket's ``key_as_string``."""
    dt = from_ms(ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def kind_fields(kind: str) -> dict[str, FieldType]:
    cls = KINDS.get(kind)
    if cls is None:
        raise QueryError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return cls.FIELDS


def field_type(kind: str, field: str) -> FieldType:
    fields = kind_fields(kind)
    if field not in fields and is_pivot(field):
        pivot_field(kind, field)  # says which pivots there are
    if field not in fields:
        raise QueryError(f"{kind} has no field {field!r}; fields: {', '.join(sorted(fields))}")
    return fields[field]


def coerce(ftype: FieldType, value: Any, where: str) -> Scalar:
    """A query value in the canonical form of a field type; ``where`` names it in errors."""
    try:
        if ftype in (FieldType.KEYWORD, FieldType.TEXT):
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, str | int | float):
                return str(value)
        elif ftype is FieldType.IP:
            if isinstance(value, str):
                return str(ipaddress.ip_address(value.strip()))
        elif ftype is FieldType.BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
        elif ftype is FieldType.LONG:
            if isinstance(value, bool):
                raise ValueError
            number = value
            if isinstance(value, float) and value.is_integer():
                number = int(value)
            elif isinstance(value, str):
                number = int(value.strip())
            if isinstance(number, int) and _LONG_MIN <= number <= _LONG_MAX:
                return number
        elif ftype is FieldType.DOUBLE:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int | float | str):
                number = float(value)
                if math.isfinite(number):
                    return number
        elif ftype is FieldType.DATE:
            try:
                return epoch_ms(value)
            except QueryError as exc:
                raise QueryError(f"{where}: {exc}") from None
    except ValueError:
        pass
    raise QueryError(f"{where}: {value!r:.80} is not a valid {ftype.value} value")


def _bound(ftype: FieldType, value: Any, where: str) -> int | float:
    if ftype is FieldType.DATE:
        try:
            return epoch_ms(value)
        except QueryError as exc:
            raise QueryError(f"{where}: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value) if ftype is FieldType.DOUBLE else int(value)
            except ValueError:
                raise QueryError(f"{where}: {value!r} is not a number") from None
        else:
            raise QueryError(f"{where}: {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"{where}: {value!r} is not a finite number")
    if ftype is FieldType.LONG and not _LONG_MIN <= value <= _LONG_MAX:
        raise QueryError(f"{where}: {value!r} is outside the 64-bit whole numbers a long holds")
    return float(value) if ftype is FieldType.DOUBLE else value


def _need(kind: str, field: str, allowed: frozenset[FieldType], op: str) -> FieldType:
    ftype = field_type(kind, field)
    if ftype not in allowed:
        names = ", ".join(sorted(t.value for t in allowed))
        raise QueryError(f"{op} on {field!r} ({ftype.value}) is not supported; {op} needs {names}")
    return ftype


def validate_query(kind: str, query: Query) -> Query:
    """Check one query tree; returns it with values normalised (see the module docstring)."""
    if isinstance(query, MatchAll):
        return query
    if isinstance(query, Match | MatchPhrase):
        op = "match" if isinstance(query, Match) else "match_phrase"
        _need(kind, query.field, TEXT_ONLY, op)
        if not isinstance(query.text, str):
            raise QueryError(f"{op} on {query.field!r}: text must be a string, got {query.text!r}")
        if isinstance(query, Match) and query.operator not in ("or", "and"):
            raise QueryError(f"match on {query.field!r}: operator {query.operator!r} is not or/and")
        return query
    if isinstance(query, Term):
        ftype = _need(kind, query.field, TERM_TYPES, "term")
        value = coerce(ftype, query.value, f"term {query.field}")
        return Term(query.field, normalize_for_field(identifier_type(kind, query.field), value))
    if isinstance(query, Terms):
        ftype = _need(kind, query.field, TERM_TYPES, "terms")
        if isinstance(query.values, str | bytes) or not isinstance(query.values, tuple | list):
            raise QueryError(
                f"terms on {query.field!r}: values must be a list, got {query.values!r}")
        id_type = identifier_type(kind, query.field)
        values = tuple(normalize_for_field(id_type, coerce(ftype, v, f"terms {query.field}"))
                       for v in query.values)
        return Terms(query.field, tuple(dict.fromkeys(values)))
    if isinstance(query, Prefix):
        return _prefix(kind, query)
    if isinstance(query, Range):
        ftype = _need(kind, query.field, RANGE_TYPES, "range")
        if query.gte is not None and query.gt is not None:
            raise QueryError(f"range on {query.field!r}: give gte or gt, not both")
        if query.lte is not None and query.lt is not None:
            raise QueryError(f"range on {query.field!r}: give lte or lt, not both")
        bounds = {
            name: _bound(ftype, value, f"range {query.field}.{name}")
            for name in ("gte", "gt", "lte", "lt")
            if (value := getattr(query, name)) is not None
        }
        return Range(query.field, **bounds)
    if isinstance(query, Exists):
        field_type(kind, query.field)
        return query
    if isinstance(query, Bool):
        msm = query.minimum_should_match
        if msm is not None and (isinstance(msm, bool) or not isinstance(msm, int) or msm < 1):
            raise QueryError(f"bool: minimum_should_match must be a whole number >= 1, got {msm!r}")
        return Bool(
            must=tuple(validate_query(kind, q) for q in query.must),
            filter=tuple(validate_query(kind, q) for q in query.filter),
            should=tuple(validate_query(kind, q) for q in query.should),
            must_not=tuple(validate_query(kind, q) for q in query.must_not),
            minimum_should_match=msm,
        )
    raise QueryError(f"not a query: {query!r}")


def _prefix(kind: str, query: Prefix) -> Prefix:
    ftype = _need(kind, query.field, PREFIX_TYPES, "prefix")
    value = query.value
    where = f"prefix on {query.field!r}"
    if not isinstance(value, str) or not value:
        raise QueryError(f"{where}: expected the text a value starts with, got {value!r} "
                         "(field:* finds documents that have the field)")
    if len(value.encode()) > MAX_PREFIX_BYTES:
        raise QueryError(f"{where}: {value[:40]!r}... is longer than {MAX_PREFIX_BYTES} bytes")
    if ftype is FieldType.TEXT:
        word = word_prefix(value)
        if word is None:
            raise QueryError(f"{where}: {value!r} is not one word (letters and digits); a "
                             "wildcard on a text field completes a single word, e.g. mark*")
        value = word
    value = normalize_prefix_for_field(identifier_type(kind, query.field), value)
    return query if value == query.value else Prefix(query.field, value)


def check_size(query: Query) -> None:
    """Refuse a query deeper or larger than :mod:`query.model` allows, without recursion."""
    clauses = 0
    stack: list[tuple[Query, int]] = [(query, 1)]
    while stack:
        node, depth = stack.pop()
        clauses += 1
        if isinstance(node, Bool):
            if depth > MAX_DEPTH:
                raise QueryError(f"the query nests bool clauses deeper than {MAX_DEPTH} levels")
            parts = (node.must, node.filter, node.should, node.must_not)
            if not all(isinstance(p, tuple | list) for p in parts):
                kinds = ", ".join(type(p).__name__ for p in parts)
                raise QueryError(f"bool: must, filter, should and must_not must be lists of "
                                 f"queries, got {kinds}")
            stack.extend((child, depth + 1) for part in parts for child in part)
        elif isinstance(node, Match | MatchPhrase) and isinstance(node.text, str):
            # Each word is a clause to Lucene; a short text (the usual) is not tokenised here.
            if len(node.text) > 64:
                clauses += max(0, len(tokens(node.text)) - 1)
        elif isinstance(node, Terms) and isinstance(node.values, tuple | list):
            if len(node.values) > MAX_TERMS:
                raise QueryError(f"terms on {node.field!r}: {len(node.values)} values are more "
                                 f"than the {MAX_TERMS} a terms query can take")
        if clauses > MAX_CLAUSES:
            raise QueryError(f"the query has more than {MAX_CLAUSES} clauses (every term, word "
                             "and operator counts); split it into smaller searches")


MAX_PARTITIONS = 10_000
_METRIC_TYPES = {
    "min": NUMERIC, "max": NUMERIC, "sum": frozenset({FieldType.LONG, FieldType.DOUBLE}),
    "cardinality": TERMS_AGG_TYPES,
}


def _validate_metrics(kind: str, name: str, agg: TermsAgg) -> None:
    """A terms aggregation's metrics and partition (see :class:`query.model.TermsAgg`)."""
    where = f"terms aggregation {name!r}"
    parts, part = agg.num_partitions, agg.partition
    if (isinstance(parts, bool) or not isinstance(parts, int)
            or not 1 <= parts <= MAX_PARTITIONS):
        raise QueryError(f"{where}: num_partitions must be 1..{MAX_PARTITIONS}, got {parts!r}")
    if isinstance(part, bool) or not isinstance(part, int) or not 0 <= part < parts:
        raise QueryError(f"{where}: partition must be 0..{parts - 1}, got {part!r}")
    if not isinstance(agg.metrics, tuple):
        raise QueryError(f"{where}: metrics must be a tuple of (name, Metric) pairs")
    seen: set[str] = set()
    for item in agg.metrics:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Metric)):
            raise QueryError(f"{where}: metric {item!r:.100} is not a (name, Metric) pair")
        mname, metric = item
        if not isinstance(mname, str) or not mname or mname in ("key", "doc_count", *seen):
            raise QueryError(f"{where}: metric name {mname!r} is empty, repeated or reserved")
        seen.add(mname)
        if metric.op not in _METRIC_TYPES:
            raise QueryError(f"{where}: metric {mname!r}: unknown op {metric.op!r}; expected "
                             f"one of {', '.join(_METRIC_TYPES)}")
        _need(kind, metric.field, _METRIC_TYPES[metric.op], f"{metric.op} metric {mname!r}")
        precision = metric.precision
        if isinstance(precision, bool) or not isinstance(precision, int) \
                or not 1 <= precision <= 40_000:
            raise QueryError(f"{where}: metric {mname!r}: precision must be 1..40000, "
                             f"got {precision!r}")


def _validate_agg(kind: str, name: str, agg: Aggregation) -> Aggregation:
    if not isinstance(name, str) or not name or name.startswith("_"):
        raise QueryError(f"aggregation name {name!r} must be a non-empty name not starting with _")
    if isinstance(agg, TermsAgg):
        _need(kind, agg.field, TERMS_AGG_TYPES, f"terms aggregation {name!r}")
        size = agg.size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_AGG_SIZE:
            raise QueryError(
                f"terms aggregation {name!r}: size must be 1..{MAX_AGG_SIZE}, got {size!r}")
        _validate_metrics(kind, name, agg)
        return agg
    if isinstance(agg, DateHistogram):
        _need(kind, agg.field, frozenset({FieldType.DATE}), f"date_histogram {name!r}")
        if not isinstance(agg.fixed_interval, str):
            raise QueryError(
                f"date_histogram {name!r}: fixed_interval {agg.fixed_interval!r} is not text")
        try:
            interval_ms(agg.fixed_interval)
        except QueryError as exc:
            raise QueryError(f"date_histogram {name!r}: {exc}") from None
        return agg
    raise QueryError(f"aggregation {name!r}: not an aggregation: {agg!r}")


def _validate_sort(kind: str, sort: tuple[SortField, ...]) -> tuple[SortField, ...]:
    for item in sort:
        if not isinstance(item, SortField):
            raise QueryError(f"sort: expected SortField, got {item!r}")
        if item.order not in ("asc", "desc"):
            raise QueryError(f"sort on {item.field!r}: order {item.order!r} is not asc/desc")
        if item.field != SCORE:
            _need(kind, item.field, SORT_TYPES, "sort")
    fields = [s.field for s in sort]
    if len(set(fields)) != len(fields):
        raise QueryError(f"sort names a field twice: {fields!r}")
    return tuple(sort)


def _validate_after(kind: str, search: Search) -> tuple[Scalar | None, ...] | None:
    after = search.search_after
    if after is None:
        return None
    if not search.sort or any(s.field == SCORE for s in search.sort):
        raise QueryError("search_after needs an explicit sort on fields (not _score)")
    if not isinstance(after, tuple | list) or len(after) != len(search.sort) + 1:
        raise QueryError(
            f"search_after needs {len(search.sort) + 1} values (the sort values of the last hit, "
            f"ending with its id), got {after!r}"
        )
    values: list[Scalar | None] = []
    for item, value in zip(search.sort, after[:-1], strict=False):
        ftype = field_type(kind, item.field)
        values.append(None if value is None else coerce(ftype, value, f"search_after {item.field}"))
    if not isinstance(after[-1], str):
        raise QueryError(f"search_after must end with the last hit's id, got {after[-1]!r}")
    values.append(after[-1])
    return tuple(values)


def validate_search(search: Search) -> Search:
    """Check a search against its kind's fields; returns it with every value normalised.

    Raises :class:`QueryError` naming the field (or part) that cannot be answered.
    """
    if not isinstance(search, Search):
        raise QueryError(f"expected a Search, got {search!r}")
    kind_fields(search.kind)
    size = search.size
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
        raise QueryError(f"size must be 0..{MAX_SIZE}, got {size!r}")
    check_size(search.query)
    query = validate_query(search.kind, search.query)
    sort = _validate_sort(search.kind, tuple(search.sort))
    aggs = {name: _validate_agg(search.kind, name, agg) for name, agg in search.aggs.items()}
    checked = replace(search, query=query, sort=sort, aggs=aggs)
    return replace(checked, search_after=_validate_after(search.kind, checked))
