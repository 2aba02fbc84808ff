"""The backend-neutral query model, its parsers and a reference evaluator."""

from query.model import (
    Bool,
    DateHistogram,
    Exists,
    Match,
    MatchAll,
    MatchPhrase,
    Query,
    Range,
    Search,
    SortField,
    Term,
    Terms,
    TermsAgg,
)

__all__ = [
    "Bool", "DateHistogram", "Exists", "Match", "MatchAll", "MatchPhrase", "Query", "Range",
    "Search", "SortField", "Term", "Terms", "TermsAgg",
]
