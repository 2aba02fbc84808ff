"""Compile a validated query into a tantivy query over a kind's generated schema.

Semantics are those of :mod:`query.model`; the notable mappings: filter clauses are
``Must`` with a constant score of 0; a bool with no positive clause gets an ``all`` clause
(tantivy matches nothing otherwise); match and phrase queries are built from the shared
tokens of :mod:`query.analysis`, phrases keeping the gaps of dropped long tokens;
ranges on LONG with fractional bounds are rounded the way Elasticsearch rounds them;
a prefix is a regex query (tantivy's automaton over the term dictionary, constant score)
of the literal prefix (every ASCII character but letters and digits as a hex escape), then
any characters. Only Prefix nodes pay for this: term queries stay as they were.
Reads no settings.
"""

from __future__ import annotations

import math

import tantivy

from documents.fields import FieldType
from errors import QueryError
from index.backends.tantivy_schema import FIELDS_PRESENT, I64_MAX, I64_MIN, KindSchema
from query.analysis import phrase_terms, tokens
from query.model import (
    Bool,
    Exists,
    Match,
    MatchAll,
    MatchPhrase,
    Prefix,
    Query,
    Range,
    Scalar,
    Term,
    Terms,
)

Occur = tantivy.Occur
TQ = tantivy.Query


def compile_query(ks: KindSchema, query: Query) -> tantivy.Query:
    if isinstance(query, MatchAll):
        return TQ.all_query()
    if isinstance(query, Match):
        words = list(dict.fromkeys(tokens(query.text)))
        if not words:
            return TQ.empty_query()
        name = ks.names[query.field]
        if len(words) == 1:
            return TQ.term_query(ks.schema, name, words[0])
        occur = Occur.Must if query.operator == "and" else Occur.Should
        return TQ.boolean_query([(occur, TQ.term_query(ks.schema, name, w)) for w in words])
    if isinstance(query, MatchPhrase):
        words = phrase_terms(query.text)
        name = ks.names[query.field]
        if not words:
            return TQ.empty_query()
        if len(words) == 1:
            return TQ.term_query(ks.schema, name, words[0][1])
        return TQ.phrase_query(ks.schema, name, words)
    if isinstance(query, Term):
        return _term(ks, query.field, query.value)
    if isinstance(query, Terms):
        if not query.values:
            return TQ.empty_query()
        parts = [_term(ks, query.field, v) for v in query.values]
        if len(parts) == 1:
            return parts[0]
        return TQ.const_score_query(TQ.boolean_query([(Occur.Should, p) for p in parts]), 1.0)
    if isinstance(query, Range):
        return _range(ks, query)
    if isinstance(query, Prefix):
        return TQ.regex_query(ks.schema, ks.names[query.field], prefix_regex(query.value))
    if isinstance(query, Exists):
        return exists(ks, query.field)
    if isinstance(query, Bool):
        return _bool(ks, query)
    raise QueryError(f"not a query: {query!r}")


def prefix_regex(prefix: str) -> str:
    """A regex matching exactly the terms that start with ``prefix``."""
    literal = "".join(c if c.isalnum() or not c.isascii() else f"\\x{{{ord(c):X}}}"
                      for c in prefix)
    return f"(?s){literal}.*"


def exists(ks: KindSchema, field: str) -> tantivy.Query:
    return TQ.term_query(ks.schema, FIELDS_PRESENT, field)


def _term(ks: KindSchema, field: str, value: Scalar) -> tantivy.Query:
    ftype = ks.fields[field]
    if ftype in (FieldType.LONG, FieldType.DATE) and not I64_MIN <= int(value) <= I64_MAX:
        return TQ.empty_query()
    return TQ.term_query(ks.schema, ks.names[field], value)


def _range(ks: KindSchema, query: Range) -> tantivy.Query:
    ftype = ks.fields[query.field]
    lower, include_lower = (query.gte, True) if query.gte is not None else (query.gt, False)
    upper, include_upper = (query.lte, True) if query.lte is not None else (query.lt, False)
    if lower is None and upper is None:
        return exists(ks, query.field)
    if ftype is FieldType.DOUBLE:
        kind = tantivy.FieldType.Float
        lower = None if lower is None else float(lower)
        upper = None if upper is None else float(upper)
    else:
        kind = tantivy.FieldType.Integer
        # v >= 1.5 is v >= 2 and v > 1.5 is v > 1 on whole numbers (likewise upwards).
        if lower is not None:
            lower = math.ceil(lower) if include_lower else math.floor(lower)
        if upper is not None:
            upper = math.floor(upper) if include_upper else math.ceil(upper)
        if (lower is not None and lower > I64_MAX) or (upper is not None and upper < I64_MIN):
            return TQ.empty_query()
        if lower is not None and lower < I64_MIN:
            lower, include_lower = None, True
        if upper is not None and upper > I64_MAX:
            upper, include_upper = None, True
        if lower is None and upper is None:
            return exists(ks, query.field)
    if lower is not None and upper is not None and (
            lower > upper or (lower == upper and not (include_lower and include_upper))):
        return TQ.empty_query()
    return TQ.range_query(ks.schema, ks.names[query.field], kind, lower, upper,
                          include_lower=include_lower if lower is not None else True,
                          include_upper=include_upper if upper is not None else True)


def _bool(ks: KindSchema, query: Bool) -> tantivy.Query:
    clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
    clauses += [(Occur.Must, compile_query(ks, q)) for q in query.must]
    clauses += [(Occur.Must, TQ.const_score_query(compile_query(ks, q), 0.0)) for q in query.filter]
    clauses += [(Occur.Should, compile_query(ks, q)) for q in query.should]
    clauses += [(Occur.MustNot, compile_query(ks, q)) for q in query.must_not]
    required = bool(query.must or query.filter)
    msm = query.minimum_should_match
    if msm is None and query.should and not required:
        msm = 1
    if msm is not None and msm > len(query.should):
        return TQ.empty_query()
    if not required and not query.should:
        clauses.append((Occur.Must, TQ.all_query()))
    if not query.should:
        msm = None
    return TQ.boolean_query(clauses, msm)


def constant_score(query: Query) -> bool:
    """Whether every hit of a query scores alike (then relevance order is id order)."""
    if isinstance(query, MatchAll | Term | Terms | Prefix | Range | Exists):
        return True
    if isinstance(query, Bool):
        return not query.should and all(constant_score(q) for q in query.must)
    return False
