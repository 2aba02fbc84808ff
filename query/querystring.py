"""The query-string syntax people type: ``btc:1A1z… AND title:"market" -lang:de``.

Grammar (case-sensitive operators)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*         adjacent terms are ANDed
    unary   := ("NOT" | "-") unary | primary
    primary := "(" query ")" | "*" | "*:*" | "_exists_:" FIELD | FIELD ":" value | value
    value   := WORD | WORD* | "quoted phrase" | "*" | [A TO B] | {A TO B} | >X | >=X | <X | <=X

As in Kibana's Lucene syntax: ``*`` and ``*:*`` match every document of the kind; a bare
word searches the kind's full-text fields (or, for kinds without any, every keyword field,
and IP fields when the word is an address). ``field:word`` is a match on text fields and
an exact term elsewhere; a quoted value on a text field is a phrase, elsewhere an exact
value (so a quoted ``*`` is a plain character); ``field:*`` and ``_exists_:field`` mean
the field exists. A trailing ``*`` (``esc*``, ``title:mark*``, ``host:abc*``) completes a
keyword value or one word of a text field (:class:`~query.model.Prefix`); ``\\*`` is a
literal star; ``?`` is an ordinary character. Leading and inner wildcards and regular
expressions (``/esc.*/``) are refused: they would scan every term of the index.

Dates take the one time syntax of :mod:`config.timespec` (ISO 8601, UTC when no offset is
given, or relative ``now-7d``); a bare date means that whole day. Short names: btc, xmr,
eth, pgp, email, phone, onion, magnet, infohash, md5, sha1, pdq, list, category; and
``pivot.<name>`` for the field ``pivots.<name>`` (:mod:`query.pivots`).

Limits, each a clear :class:`~errors.QueryError`: at most ``MAX_QUERY_CHARS`` characters
and ``MAX_NESTING`` levels of parentheses and negations (the parser's recursion is bounded
by it); the size limits of :mod:`query.model` apply to the parsed query.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from config.timespec import MAX_TIME, day_after, is_relative, parse_time
from documents import KINDS
from documents.fields import FieldType
from errors import QueryError
from query.analysis import word_prefix
from query.model import (
    Bool,
    Exists,
    Match,
    MatchAll,
    MatchPhrase,
    Prefix,
    Query,
    Range,
    Term,
)
from query.pivots import is_pivot, pivot_field

MAX_QUERY_CHARS = 2000
MAX_NESTING = 16
EXISTS = "_exists_"

ALIASES = {
    "btc": "entities.btc",
    "xmr": "entities.xmr",
    "eth": "entities.eth",
    "pgp": "entities.pgp",
    "email": "entities.emails",
    "emails": "entities.emails",
    "phone": "entities.phones",
    "phones": "entities.phones",
    "onion": "entities.onions",
    "onions": "entities.onions",
    "magnet": "entities.magnets",
    "magnets": "entities.magnets",
    "md5": "media.md5",
    "sha1": "media.sha1",
    "pdq": "media.pdq",
    "list": "matches.list",
    "category": "matches.category",
}
# Short names that depend on the kind: a page names infohashes among its entities.
KIND_ALIASES = {"page": {"infohash": "entities.infohashes", "infohashes": "entities.infohashes"}}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lpar>\() | (?P<rpar>\)) |
        (?P<range>[\[{][^\]}]*[\]}]) |
        (?P<quoted>"(?:[^"\\]|\\.)*") |
        (?P<word>[^\s()"\[{]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"cannot read the query at column {pos + 1}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup or "word"
        tokens.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    # A quoted value or range glued to "field:" arrives as two tokens: join them.
    joined: list[_Tok] = []
    for tok in tokens:
        if (
            joined
            and joined[-1].kind == "word"
            and joined[-1].text.endswith(":")
            and tok.kind in ("quoted", "range")
            and joined[-1].pos + len(joined[-1].text) == tok.pos
        ):
            prev = joined.pop()
            joined.append(_Tok("field_" + tok.kind, prev.text + tok.text, prev.pos))
        else:
            joined.append(tok)
    return joined


class _Parser:
    def __init__(self, text: str, kind: str, now: datetime):
        if kind not in KINDS:
            raise QueryError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(text, str):
            raise QueryError(f"a query string must be text, got {text!r:.80}")
        if len(text) > MAX_QUERY_CHARS:  # also keeps the tokenizer's work small
            raise QueryError(f"the query is {len(text)} characters long; at most "
                             f"{MAX_QUERY_CHARS} are searched")
        self.kind = kind
        self.fields = KINDS[kind].FIELDS
        self.now = now
        self.used_now = False  # whether a relative time was resolved against ``now``
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0  # open parentheses and pending negations

    def nest(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QueryError(
                f"the query nests parentheses and negations deeper than {MAX_NESTING} levels "
                f"(column {tok.pos + 1})")

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Query:
        if not self.toks:
            return MatchAll()
        query = self.parse_or()
        if (tok := self.peek()) is not None:
            raise QueryError(f"unexpected {tok.text!r} at column {tok.pos + 1}")
        return query

    def parse_or(self) -> Query:
        parts = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "word" and tok.text == "OR":
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Bool(should=tuple(parts), minimum_should_match=1)

    def parse_and(self) -> Query:
        positive: list[Query] = []
        negative: list[Query] = []
        while (tok := self.peek()) is not None:
            if tok.kind == "rpar" or (tok.kind == "word" and tok.text == "OR"):
                break
            if tok.kind == "word" and tok.text == "AND":
                self.take()
                continue
            negate, clause = self.parse_unary()
            (negative if negate else positive).append(clause)
        if not positive and not negative:
            tok = self.peek()
            where = f"at column {tok.pos + 1}" if tok else "at the end"
            raise QueryError(f"expected a search term {where}")
        if len(positive) == 1 and not negative:
            return positive[0]
        return Bool(must=tuple(positive) or (MatchAll(),), must_not=tuple(negative))

    def parse_unary(self) -> tuple[bool, Query]:
        # A loop, not recursion: "----...-x" must not exhaust the stack.
        negations = 0
        while (tok := self.peek()) is not None and tok.kind == "word":
            if tok.text == "NOT":
                self.take()
            elif tok.text.startswith("-") and len(tok.text) > 1:
                self.toks[self.i] = _Tok("word", tok.text[1:], tok.pos + 1)
            else:
                break
            negations += 1
            self.nest(tok)
        if self.peek() is None:
            raise QueryError("expected a search term after NOT or - at the end")
        clause = self.parse_primary()
        self.depth -= negations
        return negations % 2 == 1, clause

    def parse_primary(self) -> Query:
        tok = self.take()
        if tok.kind == "lpar":
            self.nest(tok)
            inner = self.parse_or()
            close = self.peek()
            if close is None or close.kind != "rpar":
                raise QueryError(f"the parenthesis at column {tok.pos + 1} is never closed")
            self.take()
            self.depth -= 1
            return inner
        if tok.kind == "word" and tok.text in ("*", "*:*"):
            return MatchAll()
        if tok.kind == "rpar":
            raise QueryError(f"unexpected ')' at column {tok.pos + 1}")
        if tok.kind == "quoted":
            return self.bare(_unquote(tok.text), phrase=True)
        if tok.kind == "range":
            raise QueryError(
                f"a range needs a field, e.g. fetched_at:{tok.text} (column {tok.pos + 1})"
            )
        if tok.kind.startswith("field_") or (":" in tok.text and not tok.text.startswith(":")):
            name, _, value = tok.text.partition(":")
            if value == "" and (nxt := self.peek()) is not None and nxt.kind in ("quoted", "range"):
                value = self.take().text
            if value == "":
                raise QueryError(f"{name}: needs a value (column {tok.pos + 1})")
            if name == "*":
                raise QueryError(f"'*:' needs a field name; '*:*' alone matches everything "
                                 f"(column {tok.pos + 1})")
            if name == EXISTS:
                return Exists(self.resolve_field(value, tok.pos)[0])
            return self.fielded(name, value, tok.pos)
        text, prefix = _wildcard(tok.text, tok.pos)
        if prefix:
            return self.bare_prefix(text, tok.pos)
        return self.bare(text, phrase=False)

    def bare(self, text: str, *, phrase: bool) -> Query:
        text_fields = [f for f, t in self.fields.items() if t is FieldType.TEXT]
        if text_fields:
            make = MatchPhrase if phrase else Match
            clauses = tuple(make(f, text) for f in text_fields)
            return _any(clauses)
        exact = [f for f, t in self.fields.items() if t is FieldType.KEYWORD]
        if _is_ip(text):
            exact += [f for f, t in self.fields.items() if t is FieldType.IP]
        return _any(tuple(Term(f, text) for f in exact))

    def bare_prefix(self, text: str, pos: int) -> Query:
        text_fields = [f for f, t in self.fields.items() if t is FieldType.TEXT]
        if text_fields:
            word = _text_prefix(text, pos)
            return _any(tuple(Prefix(f, word) for f in text_fields))
        exact = [f for f, t in self.fields.items() if t is FieldType.KEYWORD]
        return _any(tuple(Prefix(f, text) for f in exact))

    def resolve_field(self, name: str, pos: int) -> tuple[str, FieldType]:
        field = KIND_ALIASES.get(self.kind, {}).get(name) or ALIASES.get(name, name)
        if is_pivot(field):
            field = pivot_field(self.kind, field, f"column {pos + 1}")
        if field not in self.fields:
            known = ", ".join(sorted(self.fields))
            raise QueryError(
                f"{self.kind} has no field {name!r} (column {pos + 1}); fields: {known}"
            )
        return field, self.fields[field]

    def fielded(self, name: str, value: str, pos: int) -> Query:
        field, ftype = self.resolve_field(name, pos)
        if value == "*":
            return Exists(field)
        if value[0] in "[{":
            return self.range(field, ftype, value, pos)
        for op in (">=", "<=", ">", "<"):
            if value.startswith(op):
                bound = self.scalar(field, ftype, value[len(op) :], pos)
                key = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}[op]
                return Range(field, **{key: bound})
        quoted = value.startswith('"')
        if quoted:
            raw, prefix = _unquote(value), False
        else:
            raw, prefix = _wildcard(value, pos)
        if prefix:
            if ftype is FieldType.TEXT:
                return Prefix(field, _text_prefix(raw, pos))
            if ftype is not FieldType.KEYWORD:
                raise QueryError(
                    f"{field}:{value}: a wildcard completes keyword and text values, and "
                    f"{field} holds {ftype.value} values (column {pos + 1})")
            return Prefix(field, raw)
        if ftype is FieldType.TEXT:
            return MatchPhrase(field, raw) if quoted else Match(field, raw)
        if ftype is FieldType.DATE:
            start = self.scalar(field, ftype, raw, pos)
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                end = day_after(start)
                return Range(field, gte=start, lt=end) if end else Range(field, gte=start,
                                                                          lte=MAX_TIME)
            return Range(field, gte=start, lte=start)
        return Term(field, self.scalar(field, ftype, raw, pos))

    def range(self, field: str, ftype: FieldType, value: str, pos: int) -> Query:
        m = re.fullmatch(r"([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])", value)
        if m is None:
            raise QueryError(f"{field}: a range reads [A TO B] or {{A TO B}} (column {pos + 1})")
        low, high = m.group(2), m.group(3)
        bounds: dict[str, object] = {}
        if low != "*":
            bounds["gte" if m.group(1) == "[" else "gt"] = self.scalar(field, ftype, low, pos)
        if high != "*":
            bounds["lte" if m.group(4) == "]" else "lt"] = self.scalar(field, ftype, high, pos)
        if not bounds:
            return Exists(field)
        return Range(field, **bounds)  # type: ignore[arg-type]

    def scalar(self, field: str, ftype: FieldType, raw: str, pos: int):
        if ftype is FieldType.DATE:
            try:
                moment = parse_time(raw, self.now)
            except QueryError as exc:
                raise QueryError(f"{field}: {exc} (column {pos + 1})") from None
            self.used_now = self.used_now or is_relative(raw)
            return moment
        try:
            if ftype is FieldType.LONG:
                return int(raw)
            if ftype is FieldType.DOUBLE:
                return float(raw)
            if ftype is FieldType.BOOL:
                if raw.lower() not in ("true", "false"):
                    raise ValueError
                return raw.lower() == "true"
        except ValueError:
            raise QueryError(
                f"{field}: {raw[:80]!r} is not a valid {ftype.value} (column {pos + 1})"
            ) from None
        return raw


def _any(clauses: tuple[Query, ...]) -> Query:
    """One clause, or a bool needing one of them (none: matches nothing)."""
    return clauses[0] if len(clauses) == 1 else Bool(should=clauses, minimum_should_match=1)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _wildcard(word: str, pos: int) -> tuple[str, bool]:
    """A typed word as ``(literal text, whether a trailing * makes it a prefix)``.

    ``\\*`` is a literal star and ``\\\\`` a literal backslash; other backslashes stay.
    """
    if len(word) > 1 and word.startswith("/") and word.endswith("/"):
        raise QueryError(
            f"regular expressions such as {word[:40]!r} are not supported (column {pos + 1}); "
            "a trailing wildcard is: esc*")
    if "*" not in word:
        return word, False
    out: list[str] = []
    stars: list[int] = []
    i = 0
    while i < len(word):
        char = word[i]
        if char == "\\" and i + 1 < len(word) and word[i + 1] in "*\\":
            out.append(word[i + 1])
            i += 2
            continue
        if char == "*":
            stars.append(len(out))
        out.append(char)
        i += 1
    if not stars:
        return "".join(out), False
    text = "".join(out)
    if stars[0] == 0:
        raise QueryError(
            f"{word[:40]!r} starts with a wildcard (column {pos + 1}); leading wildcards would "
            "scan every term of the index - put the wildcard at the end, e.g. mark*")
    if stars != [len(text) - 1]:
        raise QueryError(
            f"{word[:40]!r} has a wildcard inside it (column {pos + 1}); only a trailing * is "
            "supported, e.g. mark*")
    return text[:-1], True


def _text_prefix(text: str, pos: int) -> str:
    word = word_prefix(text)
    if word is None:
        raise QueryError(
            f"{text + '*'!r}: a wildcard on a text field completes one word of letters and "
            f"digits, e.g. mark* (column {pos + 1})")
    return word


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


@dataclass(frozen=True)
class ParsedQuery:
    """A parsed query string, and whether it holds a time relative to when it was parsed."""

    query: Query
    relative: bool


def parse_query(text: str, kind: str, now: datetime | None = None) -> ParsedQuery:
    """Parse what a person typed for ``kind``, noting relative times; QueryError in words."""
    parser = _Parser(text, kind, now or datetime.now(UTC))
    query = parser.parse()
    return ParsedQuery(query, parser.used_now)


def parse_query_string(text: str, kind: str, now: datetime | None = None) -> Query:
    """Parse what a person typed into a :class:`Query` for ``kind``; raise QueryError in words."""
    return parse_query(text, kind, now).query
