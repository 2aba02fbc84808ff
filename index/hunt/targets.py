"""What a hunt looks for: the values of one list, or the verdict of one alert rule.

:class:`ListTarget` finds, in a batch of documents, the hits of one hash or keyword list:
exact hashes and PDQ-near images through the drain's own matcher
(:class:`~index.matching_index.FlaggedIndex`: the list as sorted keys in memory, PDQ
through its multi-index or full-scan index, negative lists and paused lists as at ingest), and
keywords (:class:`~index.keywords.KeywordMatcher`) in page titles and text and in torrent
names and file paths. A list of media file hashes only (md5, sha1, sha256) need not read
every page: :meth:`ListTarget.lookups` asks the index for the pages that carry its values,
a terms query per chunk of them, and the matcher confirms each candidate; any other list
reads every document of its kinds. A match the document already carries is no hit (it was flagged,
and alerted, when it was indexed). Each hit document comes back marked, to be spooled,
with the firings of the configured ``hit`` rules that take the list, or of the built-in
rule :data:`RETRO_RULE` (one alert per document, no email) when none does. A document
that one of those rules alerted on before (for another list) keeps that one alert.
:class:`RuleTarget` evaluates one configured alert rule (:mod:`alerting.rules`) on every
document it can apply to; the backend pre-selects them with the rule's query where it has
one. Both name what they hunt (``label``) and a key that changes with their content.
Reads the ``matching`` and ``alerts`` sections.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Protocol

from alerting.rules import SKIPPED_KINDS, Firing, evaluate, rule_query
from config.sections.alerts import AlertRule, AlertSettings
from config.sections.matching import MatchingSettings
from documents import KINDS, Document, Match, Page, Torrent, iso
from errors import QueryError
from index.classify import KEYWORD, keyword_matches
from index.hashsets.membership import Entry, MembershipStore
from index.hunt.errors import HuntError
from index.keywords import KeywordMatcher
from index.matching_fields import probes_of
from index.matching_index import FlaggedIndex
from query.model import Bool, Exists, Query, Term, Terms

RETRO_RULE = "retro-hunt"
RETRO_TYPE = "retro"
# The hash types a list can hold, and the kinds whose documents carry them.
PAGE_TYPES = frozenset({"md5", "sha1", "sha256", "pdq", "btc", "xmr", "eth", "email", "pgp"})
KINDS_OF_TYPE: dict[str, tuple[str, ...]] = {
    **{t: ("page",) for t in PAGE_TYPES},
    "infohash": ("page", "torrent", "observation"),
    KEYWORD: ("page", "torrent"),
}
KIND_ORDER = ("page", "torrent", "observation", "service")
# Page fields a keyword list is looked for in (torrents: name and file paths, index.classify).
PAGE_TEXT_FIELDS = ("title", "text")
# A list of media file hashes only is looked up in the index (these fields, a terms query
# per chunk of values) instead of scanned: the index finds the few pages that carry them.
TERM_FIELDS = {"md5": "media.md5", "sha1": "media.sha1", "sha256": "media.sha256"}
LOOKUP_CHUNK = 10_000  # values per terms query; each is asked in lower and upper case


@dataclass(frozen=True)
class Lookup:
    """One chunk of a list's values as one query; ``values`` counts them."""

    query: Query
    values: int


@dataclass(frozen=True)
class Hit:
    """A document the hunt found: the marked copy to spool (None: nothing to write)."""

    kind: str
    doc_id: str
    marked: Document | None
    firings: tuple[Firing, ...]


class HuntTarget(Protocol):
    label: str
    key: str
    kinds: tuple[str, ...]
    rules: dict[str, AlertRule]

    def query(self, kind: str) -> Query | None:
        """What the backend may pre-select in ``kind`` (None: every document)."""
        ...

    def lookups(self, kind: str) -> list[Lookup] | None:
        """Queries that together find every candidate of ``kind`` (None: scan the kind)."""
        ...

    def hits(self, docs: Sequence[Document]) -> list[Hit]:
        """The hits in one batch."""
        ...

    def all_rules(self) -> dict[str, AlertRule]:
        """Every rule a firing of this target may name."""
        ...


def hunt_command(list_name: str) -> str:
    """The command that hunts a list over the index: what an import offers to run."""
    return f"heroes hunt --list {shlex.quote(list_name)}"


def retro(firing: Firing, label: str) -> Firing:
    """A firing as the retro-hunt raises it: marked ``retro``, saying when it was seen."""
    return replace(
        firing,
        rule_type=RETRO_TYPE,
        summary=f"retro-hunt of {label}: {firing.summary}",
        facts=(*firing.facts, ("Retro-hunt", label), ("Originally seen", iso(firing.time))),
    )


def _fingerprint(payload: object) -> str:
    raw = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


class ListTarget:
    """One hash or keyword list (see the module docstring)."""

    def __init__(self, members: MembershipStore, name: str, matching: MatchingSettings,
                 alerts: AlertSettings):
        summaries = [s for s in members.lists() if s.list == name]
        if not summaries:
            known = sorted({s.list for s in members.lists()})
            raise HuntError(f"unknown list {name!r}; known lists: {', '.join(known) or 'none'}")
        info = members.list_info(name)
        if info.negative:
            raise HuntError(f"list {name!r} is a negative list: it suppresses hits, it flags "
                            "nothing to hunt for")
        if not info.active:
            raise HuntError(f"list {name!r} is paused: resume it first "
                            f"(heroes hashes set {name} --state active)")
        self.name = name
        self.label = f"list {name}"
        self.members = members
        self.types = sorted({s.type for s in summaries})
        self.key = "list:" + name + ":" + _fingerprint(
            [[[s.type, s.count, s.added_at] for s in summaries], asdict(info)])
        self.kinds = tuple(k for k in KIND_ORDER
                           if any(k in KINDS_OF_TYPE.get(t, ()) for t in self.types))
        self.unhunted = [t for t in self.types if t not in KINDS_OF_TYPE]
        if not self.kinds:
            raise HuntError(f"list {name!r} holds only {', '.join(self.unhunted)} values, which "
                            "the retro-hunt does not look for")
        self.index = FlaggedIndex(members, matching)
        self.index.load()
        keywords: dict[str, list[Entry]] = {}
        if KEYWORD in self.types:
            for e in members.entries_of_list(name):
                if e.type == KEYWORD:
                    keywords.setdefault(e.value, []).append(e)
        self.keyword_entries = keywords
        self.keywords = KeywordMatcher(keywords)
        self.rules = {r.name: r for r in alerts.rules
                      if r.type == "hit" and (not r.lists or name in r.lists)}
        self.fallback = AlertRule(name=RETRO_RULE, type="hit", severity="high", realert_s=0)

    def query(self, kind: str) -> Query | None:
        return None

    def lookups(self, kind: str) -> list[Lookup] | None:
        """Media-hash-only lists on pages: terms queries; anything else is scanned.

        Values are asked as listed (lower-case hex, the normal form) and in upper case, the
        form another producer may have written; the matcher then confirms every candidate.
        """
        if kind != "page" or not set(self.types) <= TERM_FIELDS.keys():
            return None
        entries = self.members.entries_of_list(self.name)
        out = []
        for start in range(0, len(entries), LOOKUP_CHUNK):
            by_field: dict[str, list[str]] = {}
            chunk = entries[start:start + LOOKUP_CHUNK]
            for e in chunk:
                by_field.setdefault(TERM_FIELDS[e.type], []).extend(
                    dict.fromkeys((e.value, e.value.upper())))
            parts = tuple(Terms(f, tuple(v)) for f, v in sorted(by_field.items()))
            query = parts[0] if len(parts) == 1 else Bool(should=parts, minimum_should_match=1)
            out.append(Lookup(query, len(chunk)))
        return out

    def hits(self, docs: Sequence[Document]) -> list[Hit]:
        found: dict[int, list[Match]] = {}
        probes, owners = [], []
        for n, doc in enumerate(docs):
            got = probes_of(doc)
            probes += got
            owners += [n] * len(got)
        if probes:
            for hit in self.index.match_all(probes, owners).hits:
                if hit.match.list == self.name:
                    found.setdefault(owners[hit.position], []).append(hit.match)
        if self.keywords:
            for n, doc in enumerate(docs):
                found.setdefault(n, []).extend(self._keyword_matches(doc))
        out: list[Hit] = []
        for n, matches in sorted(found.items()):
            doc = docs[n]
            new = [m for m in dict.fromkeys(matches) if m not in doc.matches]
            if new:
                out.append(self._hit(doc, new))
        return out

    def _keyword_matches(self, doc: Document) -> list[Match]:
        if isinstance(doc, Torrent):
            return keyword_matches(doc, self.keywords, self.keyword_entries)
        if not isinstance(doc, Page):
            return []
        out = []
        for field in PAGE_TEXT_FIELDS:
            for term in self.keywords.find(getattr(doc, field)):
                out += [Match(list=e.list, type=KEYWORD, value=term, field=field,
                              category=e.category, entry=e.entry)
                        for e in self.keyword_entries.get(term, [])]
        return out

    def _hit(self, doc: Document, new: list[Match]) -> Hit:
        marked = doc.with_matches(new)
        if isinstance(marked, Page):
            marked = _flag_media(marked, new)
        # The rules see the new matches only: those are what this hunt found.
        seen = doc.model_copy(update={"matches": new, "flagged": True})
        firings = [f for rule in self.rules.values() if (f := evaluate(rule, seen)) is not None]
        if not self.rules:
            f = evaluate(self.fallback, seen)
            if f is not None:
                firings = [replace(f, key=f"{doc.KIND}:{doc.id}")]
        return Hit(doc.KIND, doc.id, marked, tuple(retro(f, self.label) for f in firings))

    def all_rules(self) -> dict[str, AlertRule]:
        return {**self.rules, RETRO_RULE: self.fallback}


def _flag_media(page: Page, matches: list[Match]) -> Page:
    """The page with the media files the matches name flagged (by their hash values)."""
    values = {(m.field.removeprefix("media."), m.value) for m in matches
              if m.field.startswith("media.")}
    if not values:
        return page
    media = []
    for item in page.media:
        own = {(name, getattr(item, name)) for name in ("md5", "sha1", "sha256", "pdq")}
        own |= {("pdq", v) for v in item.pdq_dihedral or []}
        media.append(item.model_copy(update={"flagged": True}) if own & values else item)
    return page.model_copy(update={"media": media})


class RuleTarget:
    """One configured alert rule, evaluated on what was indexed before it existed."""

    def __init__(self, rule_name: str, alerts: AlertSettings):
        rules = {r.name: r for r in alerts.rules}
        rule = rules.get(rule_name)
        if rule is None:
            raise HuntError(f"unknown alert rule {rule_name!r}; configured rules: "
                            f"{', '.join(sorted(rules)) or 'none'} ([[alerts.rules]])")
        self.rule = rule
        self.label = f"rule {rule.name}"
        self.key = "rule:" + rule.name + ":" + _fingerprint(rule.model_dump(mode="json"))
        evaluable = [k for k in KIND_ORDER + tuple(KINDS)
                     if k not in SKIPPED_KINDS and k != "cluster"]
        wanted = rule.kinds or list(dict.fromkeys(evaluable))
        self.kinds = tuple(k for k in dict.fromkeys(wanted) if k in KINDS and self._applies(k))
        if not self.kinds:
            raise HuntError(f"alert rule {rule.name!r} applies to no document kind "
                            f"(kinds {rule.kinds!r}, query {rule.query!r})")
        self.rules = {rule.name: rule}

    def _applies(self, kind: str) -> bool:
        if self.rule.type == "new_term" and self.rule.field not in KINDS[kind].FIELDS:
            return False  # a kind without the field never carries a term
        try:
            rule_query(self.rule, kind)
        except QueryError:
            return False
        return True

    def lookups(self, kind: str) -> list[Lookup] | None:
        return None

    def query(self, kind: str) -> Query | None:
        rule = self.rule
        parts: list[Query] = []
        if rule.type in ("keyword", "frequency") and (q := rule_query(rule, kind)) is not None:
            parts.append(q)
        if rule.type == "hit" or rule.lists or rule.categories:
            parts.append(Term("flagged", True))
        if rule.type == "new_term":
            parts.append(Exists(rule.field))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Bool(filter=tuple(parts))

    def hits(self, docs: Sequence[Document]) -> list[Hit]:
        out = []
        for doc in docs:
            firing = evaluate(self.rule, doc)
            if firing is not None:
                out.append(Hit(doc.KIND, doc.id, None, (retro(firing, self.label),)))
        return out

    def all_rules(self) -> dict[str, AlertRule]:
        return self.rules
