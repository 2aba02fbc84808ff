"""One query shape for every backend: a subset of Elasticsearch's DSL as frozen dataclasses.

Semantics every backend must share (the reference evaluator is the executable spec):
- ``Match``/``MatchPhrase`` apply to TEXT fields, tokenised by splitting on anything that is
  not a letter or digit and lower-casing; tokens of 40 bytes or more are dropped.
- ``Term``/``Terms`` compare exact values of KEYWORD, IP, BOOL and numeric fields.
- ``Range`` bounds are numbers or UTC datetimes (relative dates are resolved before this).
- ``Bool``: a document matches when every must and filter clause matches, no must_not clause
  matches, and - when there is no must/filter clause, or ``minimum_should_match`` is set -
  at least ``minimum_should_match`` (default 1) should clauses match.
- Sort is by the given fields then ``_id`` ascending as the tie-breaker; the default sort
  is by relevance (``_score`` descending) then ``_id``. Elasticsearch 9 refuses to sort on
  ``_id``, so every backend also indexes the document id in a keyword field ``doc_id``; the
  backend adds it, it is not part of the document models. A multi-valued field sorts by its
  smallest value ascending, its largest descending; documents without it come last, with
  ``None`` as their sort value. Each hit's ``sort`` lists its sort values (dates in epoch
  ms) ending with its id; ``search_after`` takes those values of the last hit of the
  previous page, needs an explicit field sort, and changes neither totals nor aggregations.
- Dates are compared in whole milliseconds (like Elasticsearch's ``date`` type).
- ``Exists`` matches documents with at least one non-null value in the field.
- Totals are exact. Terms buckets are ordered by count descending then key ascending;
  date_histogram buckets are the non-empty fixed intervals, ascending, keyed by epoch ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from index.errors import QueryError

Scalar = str | int | float | bool


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class Match:
    field: str
    text: str
    operator: Literal["or", "and"] = "or"


@dataclass(frozen=True)
class MatchPhrase:
    field: str
    text: str


@dataclass(frozen=True)
class Term:
    field: str
    value: Scalar


@dataclass(frozen=True)
class Terms:
    field: str
    values: tuple[Scalar, ...]


Bound = int | float | datetime | None


@dataclass(frozen=True)
class Range:
    field: str
    gte: Bound = None
    gt: Bound = None
    lte: Bound = None
    lt: Bound = None


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class Bool:
    must: tuple[Query, ...] = ()
    filter: tuple[Query, ...] = ()
    should: tuple[Query, ...] = ()
    must_not: tuple[Query, ...] = ()
    minimum_should_match: int | None = None


Query = MatchAll | Match | MatchPhrase | Term | Terms | Range | Exists | Bool


@dataclass(frozen=True)
class TermsAgg:
    field: str
    size: int = 10


@dataclass(frozen=True)
class DateHistogram:
    field: str
    fixed_interval: str  # e.g. "30m", "1h", "1d"


Aggregation = TermsAgg | DateHistogram


@dataclass(frozen=True)
class SortField:
    field: str  # a field path or "_score"
    order: Literal["asc", "desc"] = "desc"


@dataclass(frozen=True)
class Search:
    """What to find in one document kind, how many, in which order, with which aggregations."""

    kind: str
    query: Query = field(default_factory=MatchAll)
    size: int = 10
    sort: tuple[SortField, ...] = ()
    search_after: tuple[Scalar | None, ...] | None = None
    aggs: dict[str, Aggregation] = field(default_factory=dict)

    def __hash__(self) -> int:  # aggs is a dict; searches are compared by identity only
        return id(self)


INTERVAL_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def interval_ms(spec: str) -> int:
    """Milliseconds of a fixed interval such as ``90s``, ``1h`` or ``7d``."""
    for unit in ("ms", "s", "m", "h", "d"):
        number = spec[: -len(unit)]
        if spec.endswith(unit) and number.isdigit() and int(number) > 0:
            return int(number) * INTERVAL_UNITS_MS[unit]
    raise QueryError(f"fixed_interval {spec!r} is not a whole number followed by ms, s, m, h or d")
