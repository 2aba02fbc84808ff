"""One query shape for every backend: a subset of Elasticsearch's DSL as frozen dataclasses.

Semantics every backend must share (the reference evaluator is the executable spec):
- ``Match``/``MatchPhrase`` apply to TEXT fields, tokenised by splitting on anything that is
  not a letter or digit and lower-casing; tokens of 40 bytes or more are dropped.
- ``Term``/``Terms`` compare exact values of KEYWORD, IP, BOOL and numeric fields.
- ``Prefix`` (what a trailing wildcard ``mark*`` becomes) matches a KEYWORD field with a
  value that starts with ``value`` (case-sensitive, as stored), and a TEXT field with a
  token that starts with it; on TEXT the value is analysed like a token first (lower-cased,
  and it must be one run of letters and digits). A value is 1 to 256 UTF-8 bytes; an
  empty one is refused (``field:*`` is ``Exists``). Leading and inner wildcards and
  regular expressions are not part of the model.
- ``Range`` bounds are numbers or UTC datetimes (relative dates are resolved before this);
  every date, bound or value, lies in the years 1 to 9999 (see :mod:`config.timespec`).
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
- Size: a query nests at most ``MAX_DEPTH`` bools deep and has at most ``MAX_CLAUSES``
  clauses (every node, plus every token of a match or phrase); a terms query has at most
  ``MAX_TERMS`` values. Larger queries are refused before any backend sees them.
- Totals are exact. Terms buckets are ordered by count descending then key ascending;
  date_histogram buckets are the non-empty fixed intervals, ascending, keyed by epoch ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from config.timespec import duration_ms
from errors import QueryError

# Elasticsearch's response shape; see index.backends.base for its fields.
SearchResult = dict[str, Any]

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
class Prefix:
    field: str
    value: str


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


Query = MatchAll | Match | MatchPhrase | Term | Terms | Prefix | Range | Exists | Bool

# Below Elasticsearch's own limits (bool nesting 30 in 9.x; clause count computed from the
# heap, at least 1024 on the smallest nodes; index.max_terms_count 65,536).
MAX_DEPTH = 24
MAX_CLAUSES = 1024
MAX_TERMS = 65_536
MAX_PREFIX_BYTES = 256


@dataclass(frozen=True)
class Metric:
    """A value per terms bucket: ``min``/``max``/``sum`` of a numeric or date field, or
    ``cardinality``, the number of distinct values of an exact field: exact up to
    ``precision`` distinct values a bucket (1 to 40,000; Elasticsearch's precision
    threshold, which costs about 8 bytes per unit per bucket), an estimate beyond."""

    op: Literal["min", "max", "sum", "cardinality"]
    field: str
    precision: int = 3_000


@dataclass(frozen=True)
class TermsAgg:
    """Buckets of the values of ``field``.

    ``metrics`` (name, Metric) adds each metric's value to every bucket under its name:
    min/max are None when no document of the bucket has the field, dates are epoch ms, a
    sum of nothing is 0, cardinality as :class:`Metric` says. ``partition`` of
    ``num_partitions`` keeps only the keys in that partition: how keys are split is the
    backend's, but the partitions
    are disjoint and together hold every key, so a caller reads every bucket of a field
    with more keys than ``size`` one partition at a time.
    """

    field: str
    size: int = 10
    metrics: tuple[tuple[str, Metric], ...] = ()
    partition: int = 0
    num_partitions: int = 1


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


def interval_ms(spec: str) -> int:
    """Milliseconds of a fixed interval: a duration (``90s``, ``1h``, ``7d``) longer than zero."""
    ms = duration_ms(spec)
    if ms <= 0:
        raise QueryError(f"fixed_interval {spec!r} must be longer than zero")
    return ms
