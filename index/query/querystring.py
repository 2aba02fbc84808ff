"""The query-string syntax people type: ``btc:1A1z… AND title:"market" -lang:de``.

Grammar (case-sensitive operators)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*         adjacent terms are ANDed
    unary   := ("NOT" | "-") unary | primary
    primary := "(" query ")" | FIELD ":" value | value
    value   := WORD | "quoted phrase" | "*" | [A TO B] | {A TO B} | >X | >=X | <X | <=X

A bare word searches the kind's full-text fields (or, for kinds without any, every exact
field). ``field:word`` is a match on text fields and an exact term elsewhere; a quoted
value on a text field is a phrase; ``field:*`` means the field exists. Dates accept ISO
8601 (UTC when no offset is given) or relative ``now-7d``; a bare date means that whole day.
Short names: btc, xmr, eth, pgp, email, phone, onion, magnet, infohash, md5, sha1, pdq,
list, category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from index.documents import KINDS
from index.documents.fields import FieldType
from index.errors import QueryError
from index.query.model import Bool, Exists, Match, MatchAll, MatchPhrase, Query, Range, Term
from index.query.validate import resolve_relative

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
        self.kind = kind
        self.fields = KINDS[kind].FIELDS
        self.now = now
        self.toks = _tokenize(text)
        self.i = 0

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
        tok = self.peek()
        assert tok is not None
        if tok.kind == "word" and tok.text == "NOT":
            self.take()
            negate, clause = self.parse_unary()
            return not negate, clause
        if tok.kind == "word" and tok.text.startswith("-") and len(tok.text) > 1:
            self.toks[self.i] = _Tok("word", tok.text[1:], tok.pos + 1)
            negate, clause = self.parse_unary()
            return not negate, clause
        return False, self.parse_primary()

    def parse_primary(self) -> Query:
        tok = self.take()
        if tok.kind == "lpar":
            inner = self.parse_or()
            close = self.peek()
            if close is None or close.kind != "rpar":
                raise QueryError(f"the parenthesis at column {tok.pos + 1} is never closed")
            self.take()
            return inner
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
            return self.fielded(name, value, tok.pos)
        return self.bare(tok.text, phrase=False)

    def bare(self, text: str, *, phrase: bool) -> Query:
        text_fields = [f for f, t in self.fields.items() if t is FieldType.TEXT]
        if text_fields:
            make = MatchPhrase if phrase else Match
            clauses = tuple(make(f, text) for f in text_fields)
            return clauses[0] if len(clauses) == 1 else Bool(should=clauses, minimum_should_match=1)
        exact = [f for f, t in self.fields.items() if t in (FieldType.KEYWORD, FieldType.IP)]
        clauses = tuple(Term(f, text) for f in exact)
        return Bool(should=clauses, minimum_should_match=1)

    def resolve_field(self, name: str, pos: int) -> tuple[str, FieldType]:
        field = KIND_ALIASES.get(self.kind, {}).get(name) or ALIASES.get(name, name)
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
        raw = _unquote(value) if quoted else value
        if ftype is FieldType.TEXT:
            return MatchPhrase(field, raw) if quoted else Match(field, raw)
        if ftype is FieldType.DATE:
            start = self.scalar(field, ftype, raw, pos)
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                return Range(field, gte=start, lt=start + timedelta(days=1))
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
        try:
            if ftype is FieldType.DATE:
                return resolve_relative(raw, self.now)
            if ftype is FieldType.LONG:
                return int(raw)
            if ftype is FieldType.DOUBLE:
                return float(raw)
            if ftype is FieldType.BOOL:
                if raw.lower() not in ("true", "false"):
                    raise ValueError
                return raw.lower() == "true"
        except (ValueError, QueryError):
            raise QueryError(
                f"{field}: {raw!r} is not a valid {ftype.value} (column {pos + 1})"
            ) from None
        return raw


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse_query_string(text: str, kind: str, now: datetime | None = None) -> Query:
    """Parse what a person typed into a :class:`Query` for ``kind``; raise QueryError in words."""
    return _Parser(text, kind, now or datetime.now(UTC)).parse()
