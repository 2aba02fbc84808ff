"""The analyst's query text -> a query of the backend-neutral model.

Uses ``index.query.querystring.parse_query_string`` (the syntax of ``heroes search``)
when the installation has it; otherwise a small subset of the same syntax: words (match on
the kind's text fields), ``"a phrase"``, ``field:value``, ``-negation``. Reads no settings.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
from collections.abc import Callable
from datetime import datetime

from index.documents import KINDS
from index.documents.fields import FieldType
from index.errors import QueryError
from index.query.model import Bool, Match, MatchAll, MatchPhrase, Query, Term

log = logging.getLogger(__name__)

Parser = Callable[[str, str, datetime | None], Query]

_TOKEN = re.compile(r'(-?)(?:([A-Za-z_][\w.]*):)?(?:"([^"]*)"|(\S+))')


def _load_parser() -> Parser:
    if importlib.util.find_spec("index.query.querystring") is not None:
        module = importlib.import_module("index.query.querystring")
        return module.parse_query_string
    log.info("index.query.querystring not installed: the console uses its own query subset")
    return subset_parse


def text_fields(kind: str) -> list[str]:
    return [f for f, t in KINDS[kind].FIELDS.items() if t == FieldType.TEXT]


def _keyword_fields(kind: str) -> list[str]:
    return [f for f, t in KINDS[kind].FIELDS.items() if t in (FieldType.KEYWORD, FieldType.IP)]


def _convert(kind: str, field: str, value: str) -> str | int | float | bool:
    ftype = KINDS[kind].FIELDS[field]
    try:
        if ftype == FieldType.LONG:
            return int(value)
        if ftype == FieldType.DOUBLE:
            return float(value)
    except ValueError:
        raise QueryError(f"field {field!r} takes a number, got {value!r}") from None
    if ftype == FieldType.BOOL:
        if value.lower() not in ("true", "false"):
            raise QueryError(f"field {field!r} takes true or false, got {value!r}")
        return value.lower() == "true"
    return value


def subset_parse(text: str, kind: str, now: datetime | None = None) -> Query:
    """Words, phrases, ``field:value`` and ``-`` negation, all required (AND)."""
    if kind not in KINDS:
        raise QueryError(f"unknown kind {kind!r}")
    must: list[Query] = []
    must_not: list[Query] = []
    fields = KINDS[kind].FIELDS
    for match in _TOKEN.finditer(text.strip()):
        negate, field, phrase, word = match.groups()
        value = phrase if phrase is not None else word
        if field:
            if field not in fields:
                raise QueryError(
                    f"unknown field {field!r} for {kind} documents "
                    f"(known: {', '.join(sorted(fields))})"
                )
            clause: Query = (
                MatchPhrase(field, value)
                if fields[field] == FieldType.TEXT
                else Term(field, _convert(kind, field, value))
            )
        else:
            targets = text_fields(kind)
            if targets:
                make = MatchPhrase if phrase is not None else Match
                clause = Bool(should=tuple(make(f, value) for f in targets))
            else:
                clause = Bool(should=tuple(Term(f, value) for f in _keyword_fields(kind)))
        (must_not if negate else must).append(clause)
    if not must and not must_not:
        return MatchAll()
    return Bool(must=tuple(must), must_not=tuple(must_not))


_parser: Parser | None = None


def parse(text: str, kind: str, now: datetime | None = None) -> Query:
    """Parse analyst text for one kind; raises :class:`QueryError` with a readable message."""
    global _parser
    if _parser is None:
        _parser = _load_parser()
    if not text.strip():
        return MatchAll()
    return _parser(text, kind, now)
