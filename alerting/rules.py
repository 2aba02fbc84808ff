"""Alert rules evaluated on one committed document: pure functions, no I/O.

- ``hit``: the document carries a match from the rule's lists/categories (all when empty).
- ``keyword``: the document matches the rule's query string (e.g. new pages).
- ``new_term``: each value at the rule's ``field`` is a candidate; the engine alerts on
  the values it has never seen for this rule (e.g. ``host`` with ``lists`` = wallets:
  a flagged wallet on a new service).
- ``frequency``: documents matching the query (and the lists, when given) count towards
  ``threshold`` within ``window_s``, per key; the engine keeps the counts.
- ``access_changed``: a ``service`` whose access state (content, queue, captcha, login,
  rate-limited, js-required) differs from the one before; ``states`` limits it to some new
  states (e.g. ``login``: a watched service starts demanding a login).

``lists``/``categories`` restrict every rule type to flagged documents with a match from
them. The dedup key is the values of the rule's ``key`` fields, by default infohash+ip
for observations, host for pages, infohash for torrents. The outcome is a
:class:`Firing` (the engine decides, with its state, whether it becomes an alert) or None.
Facts and summaries name hashes, addresses, URLs and times, never page content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from alerting.evaluate import query_matches
from alerting.follow import Chains, Moves, describe, followed_texts
from alerting.render import video_match_text
from config.sections.alerts import AlertRule
from documents import Document, Match, Observation, Page, Torrent, iso
from documents.fields import values_at
from errors import QueryError
from identifiers import display
from query.model import Query
from query.querystring import ParsedQuery, parse_query

DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "observation": ("infohash", "ip"),
    "page": ("host",),
    "torrent": ("infohash",),
    "service": ("host",),
}
LEVELS = {
    0: "L0 address reported by a tracker, the DHT or PEX only",
    1: "L1 BitTorrent handshake completed for this infohash",
    2: "L2 the peer announced pieces",
    3: "L3 pieces verified from this single peer",
}
SKIPPED_KINDS = frozenset({"alert", "hash"})


@dataclass(frozen=True)
class Firing:
    rule: str
    rule_type: str
    doc_kind: str
    doc_id: str
    version: str  # the document's time: a later version of the same id is a new event
    time: datetime
    key: str
    summary: str
    facts: tuple[tuple[str, str], ...]
    terms: tuple[str, ...] = field(default=())
    # Where the alert's window starts whatever the document's time: a built-in alert whose
    # window is its key's whole life (quarantine) names 0, so every machine makes one id.
    window_anchor: float | None = None


def rule_query(rule: AlertRule, kind: str) -> Query | None:
    """The rule's parsed query for a kind (None when it has none); QueryError names the rule.

    A query with relative times (``fetched_at:>now-1d``) is resolved again at every call,
    so "the last day" keeps meaning the day before the document is evaluated.
    """
    if not rule.query.strip():
        return None
    return _query(rule.name, rule.query, kind)


def _query(name: str, text: str, kind: str) -> Query:
    parsed = _parse(name, text, kind)
    if isinstance(parsed, QueryError):
        raise parsed
    if parsed.relative:
        return parse_query(text, kind).query
    return parsed.query


def _matches_followed(rule: AlertRule, doc: Document, source: dict[str, Any],
                      follows: Chains) -> Moves | None:
    """The moves under which the rule's query matches ``doc`` when the query as written
    does not (the onions it names relaunched elsewhere), or None."""
    for text, moves in followed_texts(rule.query, follows):
        if query_matches(_query(rule.name, text, doc.KIND), doc.KIND, doc.id, source):
            return moves
    return None


def check_rule(rule: AlertRule, kinds: list[str]) -> None:
    """Raise QueryError unless the rule's query makes sense for at least one of its kinds."""
    errors = []
    for kind in rule.kinds or kinds:
        try:
            rule_query(rule, kind)
            return
        except QueryError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


@lru_cache(maxsize=256)
def _parse(name: str, text: str, kind: str) -> ParsedQuery | QueryError:
    # Errors are cached too: a query naming page fields simply does not apply to observations.
    try:
        return parse_query(text, kind)
    except QueryError as exc:
        return QueryError(f"alerts.rules {name!r}: query {text!r}: {exc}")


def evaluate(rule: AlertRule, doc: Document, follows: Chains | None = None) -> Firing | None:
    """The rule's verdict on one document; ``follows`` (alerting.follow) makes a query
    naming a relaunched onion match for its confirmed successors too."""
    if doc.KIND in SKIPPED_KINDS or (rule.kinds and doc.KIND not in rule.kinds):
        return None
    matches = relevant_matches(rule, doc)
    if (rule.type == "hit" or rule.lists or rule.categories) and not matches:
        return None
    source = doc.source()
    followed: Moves | None = None
    if rule.type in ("keyword", "frequency"):
        try:
            query = rule_query(rule, doc.KIND)
        except QueryError:
            return None  # the query names fields this kind does not have
        if query is not None and not query_matches(query, doc.KIND, doc.id, source):
            followed = _matches_followed(rule, doc, source, follows) if follows else None
            if followed is None:
                return None
        if rule.type == "keyword" and query is None:
            return None
    terms: tuple[str, ...] = ()
    if rule.type == "access_changed":
        change = access_change(doc)
        if change is None or (rule.states and change[1] not in rule.states):
            return None
        terms = change
    if rule.type == "new_term":
        terms = tuple(dict.fromkeys(str(v) for v in values_at(source, rule.field)))
        if not terms:
            return None
    key = dedup_key(rule, doc, source)
    when = doc_time(doc)
    return Firing(
        rule=rule.name,
        rule_type=rule.type,
        doc_kind=doc.KIND,
        doc_id=doc.id,
        version=iso(when),
        time=when,
        key=key,
        summary=summary(rule, doc, matches, terms),
        facts=facts(doc, matches) + (
            (("Followed", describe(followed)),) if followed else ()),
        terms=terms,
    )


def access_change(doc: Document) -> tuple[str, str] | None:
    """(before, now) when the service's newest access check differs from the one before."""
    history = getattr(doc, "access_history", None)
    if doc.KIND != "service" or not history or len(history) < 2:
        return None
    before, now = history[-2].state, history[-1].state
    return (before, now) if before != now else None


def relevant_matches(rule: AlertRule, doc: Document) -> list[Match]:
    return [
        m
        for m in doc.matches
        if (not rule.lists or m.list in rule.lists)
        and (not rule.categories or m.category in rule.categories)
    ]


def dedup_key(rule: AlertRule, doc: Document, source: dict[str, Any]) -> str:
    fields = tuple(rule.key) or DEFAULT_KEYS.get(doc.KIND, ())
    if not fields:
        return f"{doc.KIND}:{doc.id}"
    parts = ["|".join(sorted({str(v) for v in values_at(source, f)})) for f in fields]
    return " ".join(parts)


def doc_time(doc: Document) -> datetime:
    value = getattr(doc, doc.TIME_FIELD)
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def summary(rule: AlertRule, doc: Document, matches: list[Match], terms: tuple[str, ...]) -> str:
    flagged = ", ".join(sorted({f"{m.type} on {m.list}" for m in matches}))
    if isinstance(doc, Observation):
        where = f"peer {doc.ip}:{doc.port} (L{doc.level}) in swarm {doc.infohash}"
    elif isinstance(doc, Page):
        where = f"page on {doc.host}"
    elif isinstance(doc, Torrent):
        where = f"torrent {doc.infohash}"
    elif doc.KIND == "service":
        where = f"service {getattr(doc, 'host', doc.id)}"
    else:
        where = f"{doc.KIND} {doc.id}"
    tail = f" ({flagged})" if flagged else ""
    if rule.type == "access_changed" and len(terms) == 2:
        ask = "; it needs a fresh session (heroes sessions import)" if terms[1] == "login" else ""
        return f"{where}: access changed from {terms[0]} to {terms[1]}{ask}"
    if rule.type == "new_term":
        return f"new {rule.field} {', '.join(terms)}: {where}{tail}"
    if rule.type == "keyword":
        return f"{where} matches {rule.query!r}"
    if rule.type == "frequency":
        return f"{where} matches {rule.query or 'the rule'!r}{tail}"
    return f"flagged {flagged}: {where}"


def facts(doc: Document, matches: list[Match]) -> tuple[tuple[str, str], ...]:
    """What an analyst needs to act, as (label, value) pairs; never page text or images."""
    out: list[tuple[str, str]] = []
    if isinstance(doc, Observation):
        out += [("Infohash", doc.infohash)]
        if doc.infohash_v2:
            out.append(("Infohash v2", doc.infohash_v2))
        out += [
            ("Peer", f"{doc.ip}:{doc.port}"),
            ("Level", LEVELS.get(doc.level, str(doc.level))),
            ("Client", doc.client or doc.ext_v or "unknown"),
            ("Sources", ", ".join(doc.sources) or "-"),
            ("First seen", iso(doc.first_seen)),
            ("Last seen", iso(doc.last_seen)),
            ("Probe", doc.probe_id or "-"),
        ]
    elif isinstance(doc, Page):
        out += [("URL", doc.url), ("Host", doc.host), ("Fetched", iso(doc.fetched_at))]
        if doc.job:
            out.append(("Crawl job", doc.job))
    elif isinstance(doc, Torrent):
        out += [("Infohash", doc.infohash)]
        if doc.infohash_v2:
            out.append(("Infohash v2", doc.infohash_v2))
        out += [
            ("Found on", ", ".join(doc.found_on[:5]) or "-"),
            ("First seen", iso(doc.first_seen)),
        ]
    elif doc.KIND == "service":
        out += [("Host", str(getattr(doc, "host", ""))),
                ("Access", str(getattr(doc, "access", "")) or "-"),
                ("Why", str(getattr(doc, "access_why", "")) or "-"),
                ("Last seen", iso(doc_time(doc)))]
    else:
        out.append(("Document", f"{doc.KIND} {doc.id}"))
    for m in matches:
        # The display form (EIP-55 for eth): what an analyst pastes into a search.
        text = f"{m.type} {display(m.type, m.value)} in {m.field}: list {m.list}"
        if m.category:
            text += f", category {m.category}"
        if m.entry:
            text += f", entry {m.entry}"
        if m.distance is not None:
            text += f", distance {m.distance}"
        if m.transform and m.transform != "original":
            text += f", image turned or mirrored ({m.transform})"
        if video := video_match_text(m):
            text += f", {video}"
        out.append(("Matched", text))
    return tuple(out)
