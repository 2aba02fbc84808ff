"""Check a :class:`~index.query.model.Search` against its kind's fields, and normalise its values.

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
range                 LONG, DOUBLE, DATE
exists                any field
terms aggregation     KEYWORD, IP, BOOL, LONG
date_histogram        DATE
sort                  KEYWORD, LONG, DOUBLE, DATE (and ``_score``)
====================  =================================================

Relative dates (``now-7d``) are resolved by :func:`resolve_relative` before a query reaches
a backend. Reads no settings.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from index.documents import KINDS
from index.documents.fields import FieldType
from index.errors import QueryError
from index.query.model import (
    Aggregation,
    Bool,
    DateHistogram,
    Exists,
    Match,
    MatchAll,
    MatchPhrase,
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

MAX_SIZE = 10_000  # like Elasticsearch's index.max_result_window
MAX_AGG_SIZE = 10_000
SCORE = "_score"

TEXT_ONLY = frozenset({FieldType.TEXT})
TERM_TYPES = frozenset(FieldType) - TEXT_ONLY
RANGE_TYPES = frozenset({FieldType.LONG, FieldType.DOUBLE, FieldType.DATE})
TERMS_AGG_TYPES = frozenset({FieldType.KEYWORD, FieldType.IP, FieldType.BOOL, FieldType.LONG})
SORT_TYPES = frozenset({FieldType.KEYWORD, FieldType.LONG, FieldType.DOUBLE, FieldType.DATE})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RELATIVE = re.compile(r"now(?:([+-])(\d+)(ms|s|m|h|d|w))?")
_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days",
          "w": "weeks"}


def resolve_relative(value: str | datetime, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from ``now``, ``now-7d``/``now+12h``/``now-30m`` or ISO 8601.

    Units: ms, s, m, h, d, w (fixed lengths; calendar months and rounding are not supported).
    An ISO string without an offset (or a bare date) is taken as UTC.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        raise QueryError(f"expected a date (ISO 8601 or now-7d), got {value!r}")
    text = value.strip()
    m = _RELATIVE.fullmatch(text)
    if m:
        base = (now or datetime.now(UTC)).astimezone(UTC)
        if m.group(1) is None:
            return base
        delta = timedelta(**{_UNITS[m.group(3)]: int(m.group(2))})
        return base - delta if m.group(1) == "-" else base + delta
    if text.startswith("now"):
        raise QueryError(
            f"relative date {value!r} is not now, now-N<unit> or now+N<unit> "
            "with unit ms, s, m, h, d or w"
        )
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"{value!r} is not an ISO 8601 date or a relative date like now-7d") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def epoch_ms(value: Any) -> int:
    """Epoch milliseconds (floored) of a datetime, an ISO string or an int already in ms."""
    if isinstance(value, bool):
        raise QueryError(f"expected a date, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QueryError(f"expected a date, got {value!r}")
        return math.floor(value)
    dt = resolve_relative(value) if isinstance(value, str) else value
    if not isinstance(dt, datetime):
        raise QueryError(f"expected a date, got {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def ms_to_iso(ms: int) -> str:
    """The ISO form Elasticsearch gives a date bucket's ``key_as_string``."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def kind_fields(kind: str) -> dict[str, FieldType]:
    cls = KINDS.get(kind)
    if cls is None:
        raise QueryError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return cls.FIELDS


def field_type(kind: str, field: str) -> FieldType:
    fields = kind_fields(kind)
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
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(value.strip())
        elif ftype is FieldType.DOUBLE:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int | float | str):
                number = float(value)
                if math.isfinite(number):
                    return number
        elif ftype is FieldType.DATE:
            return epoch_ms(value)
    except (ValueError, QueryError):
        pass
    raise QueryError(f"{where}: {value!r} is not a valid {ftype.value} value")


def _bound(ftype: FieldType, value: Any, where: str) -> int | float:
    if ftype is FieldType.DATE:
        try:
            return epoch_ms(value)
        except QueryError:
            raise QueryError(f"{where}: {value!r} is not a date") from None
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
        return Term(query.field, coerce(ftype, query.value, f"term {query.field}"))
    if isinstance(query, Terms):
        ftype = _need(kind, query.field, TERM_TYPES, "terms")
        if isinstance(query.values, str | bytes) or not isinstance(query.values, tuple | list):
            raise QueryError(
                f"terms on {query.field!r}: values must be a list, got {query.values!r}")
        values = tuple(coerce(ftype, v, f"terms {query.field}") for v in query.values)
        return Terms(query.field, tuple(dict.fromkeys(values)))
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


def _validate_agg(kind: str, name: str, agg: Aggregation) -> Aggregation:
    if not isinstance(name, str) or not name or name.startswith("_"):
        raise QueryError(f"aggregation name {name!r} must be a non-empty name not starting with _")
    if isinstance(agg, TermsAgg):
        _need(kind, agg.field, TERMS_AGG_TYPES, f"terms aggregation {name!r}")
        size = agg.size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_AGG_SIZE:
            raise QueryError(
                f"terms aggregation {name!r}: size must be 1..{MAX_AGG_SIZE}, got {size!r}")
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
    query = validate_query(search.kind, search.query)
    sort = _validate_sort(search.kind, tuple(search.sort))
    aggs = {name: _validate_agg(search.kind, name, agg) for name, agg in search.aggs.items()}
    checked = replace(search, query=query, sort=sort, aggs=aggs)
    return replace(checked, search_after=_validate_after(search.kind, checked))
