"""Property: tantivy and the reference evaluator give the same answers to random searches.

Random documents (small vocabularies, so that queries hit) and random queries of every
operator, prefixes (trailing wildcards) on keyword and text fields included: equal totals,
equal hit sets, equal aggregation buckets, and the exact same order when paging a field
sort with search_after.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.sections.index import IndexSettings
from documents import Document, parse_document
from index.backends.tantivy import TantivyBackend
from query.model import (
    Bool,
    DateHistogram,
    Exists,
    Match,
    MatchAll,
    MatchPhrase,
    Prefix,
    Query,
    Range,
    Search,
    SortField,
    Term,
    Terms,
    TermsAgg,
)
from query.reference import evaluate
from tests.index.backend_contract import buckets

WORDS = ["tea", "green", "market", "Coffee", "news", "ÜBER", "a1", "x" * 41]
SEPARATORS = [" ", ", ", "-", ". ", "_"]
HOSTS = ["a.onion", "b.onion", "c.onion"]
BTC = ["1A", "1B", "1C", "1D"]
BASE = datetime(2026, 11, 20, tzinfo=UTC)
TIMES = [BASE + timedelta(hours=h, milliseconds=ms) for h in (0, 5, 30, 31, 200) for ms in (0, 7)]
IPS = ["127.0.0.2", "127.0.0.10", "::1", "127.100.0.1", "fe80::2"]
CHECKS = 10  # queries per generated corpus

text = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=7).map(
    lambda pairs: "".join(w + s for w, s in pairs))
phrase = st.lists(st.sampled_from(WORDS[:6]), min_size=1, max_size=3).map(" ".join)
iso = st.sampled_from(TIMES).map(lambda t: t.isoformat())


def _page(i: int, parts: dict[str, Any]) -> dict[str, Any]:
    body = {"kind": "page", "url": f"http://{parts.pop('host')}/{i}", **parts}
    return {k: v for k, v in body.items() if v is not None}


page_parts = st.fixed_dictionaries({
    "host": st.sampled_from(HOSTS),
    "title": text,
    "text": text,
    "fetched_at": iso,
    "status": st.sampled_from([200, 404, 500]),
    "lang": st.sampled_from(["en", "de", ""]),
    "size": st.sampled_from([None, 0, 5, 1200]),
    "entities": st.fixed_dictionaries({"btc": st.lists(st.sampled_from(BTC), max_size=3)}),
    "media": st.lists(st.fixed_dictionaries({
        "url": st.just("http://m.onion/i.png"), "flagged": st.booleans()}), max_size=2),
})
pages = st.lists(page_parts, min_size=1, max_size=25).map(
    lambda parts: [_page(i, p) for i, p in enumerate(parts)])

observation_parts = st.fixed_dictionaries({
    "infohash": st.sampled_from(["1" * 40, "2" * 40]),
    "ip": st.sampled_from(IPS),
    "port": st.integers(1, 5),
    "sources": st.lists(st.sampled_from(["dht", "pex", "tracker"]), max_size=2, unique=True),
    "client": st.sampled_from(["", "qB", "TR"]),
    "have_fraction": st.sampled_from([None, 0.0, 0.25, 1.0]),
    "first_seen": iso,
    "last_seen": iso,
    "level": st.integers(0, 3),
})
observations = st.lists(observation_parts, min_size=1, max_size=25).map(
    lambda parts: [{"kind": "observation", **{k: v for k, v in p.items() if v is not None}}
                   for p in parts])

bound = st.one_of(st.none(), st.sampled_from(TIMES))
PAGE_LEAVES = st.one_of(
    st.builds(MatchAll),
    st.builds(Match, st.sampled_from(["title", "text"]), phrase, st.sampled_from(["or", "and"])),
    st.builds(MatchPhrase, st.sampled_from(["title", "text"]),
              st.one_of(phrase, st.just(f"tea {'y' * 41} green"))),
    st.builds(Term, st.just("host"), st.sampled_from(HOSTS)),
    st.builds(Term, st.just("entities.btc"), st.sampled_from(BTC)),
    st.builds(Term, st.just("status"), st.sampled_from([200, 404])),
    st.builds(Term, st.just("media.flagged"), st.booleans()),
    st.builds(Term, st.just("fetched_at"), st.sampled_from(TIMES).map(lambda t: t.isoformat())),
    st.builds(Terms, st.just("lang"), st.lists(st.sampled_from(["en", "de", "", "fr"]),
                                               max_size=3).map(tuple)),
    st.builds(Range, st.just("fetched_at"), gte=bound, lt=bound),
    st.builds(Range, st.just("fetched_at"), gt=bound, lte=bound),
    st.builds(Range, st.just("size"), gte=st.sampled_from([None, 0, 4.5, 5]),
              lte=st.sampled_from([None, 5, 1199.5])),
    st.builds(Range, st.just("status"), gt=st.sampled_from([None, 200]),
              lt=st.sampled_from([None, 500])),
    st.builds(Exists, st.sampled_from(["size", "entities.btc", "media.flagged", "lang", "title"])),
    st.builds(Prefix, st.sampled_from(["title", "text"]),
              st.sampled_from(["t", "te", "tea", "gr", "Ü", "üb", "a", "A1", "xxx", "co"])),
    st.builds(Prefix, st.just("host"), st.sampled_from(["a", "b.", "c.onion", "a.onion/"])),
    st.builds(Prefix, st.just("entities.btc"), st.sampled_from(["1", "1A", "1a"])),
    st.builds(Prefix, st.just("lang"), st.sampled_from(["e", "d", "en"])),
    st.builds(Prefix, st.just("url"), st.sampled_from(["http://", "http://b.onion/1"])),
)
OBSERVATION_LEAVES = st.one_of(
    st.builds(MatchAll),
    st.builds(Term, st.just("ip"), st.sampled_from([*IPS, "0:0:0:0:0:0:0:1"])),
    st.builds(Terms, st.just("ip"), st.lists(st.sampled_from(IPS), max_size=3).map(tuple)),
    st.builds(Term, st.just("sources"), st.sampled_from(["dht", "pex"])),
    st.builds(Term, st.just("have_fraction"), st.sampled_from([0.0, 0.25, 1])),
    st.builds(Range, st.just("have_fraction"), gte=st.sampled_from([None, 0.0, 0.1]),
              lt=st.sampled_from([None, 1.0])),
    st.builds(Range, st.just("level"), gte=st.sampled_from([None, 1]),
              lte=st.sampled_from([None, 2])),
    st.builds(Range, st.just("last_seen"), gte=bound),
    st.builds(Exists, st.sampled_from(["have_fraction", "sources", "client"])),
    st.builds(Prefix, st.just("client"), st.sampled_from(["q", "T", "qB", "x"])),
    st.builds(Prefix, st.just("sources"), st.sampled_from(["d", "p", "tracker"])),
    st.builds(Prefix, st.just("infohash"), st.sampled_from(["1", "2", "11"])),
)


def queries(leaves: st.SearchStrategy[Query]) -> st.SearchStrategy[Query]:
    return st.recursive(leaves, lambda inner: st.builds(
        Bool, must=st.lists(inner, max_size=2).map(tuple),
        filter=st.lists(inner, max_size=2).map(tuple),
        should=st.lists(inner, max_size=3).map(tuple),
        must_not=st.lists(inner, max_size=1).map(tuple),
        minimum_should_match=st.sampled_from([None, None, 1, 2])), max_leaves=6)


def sorts(fields: list[str]) -> st.SearchStrategy[tuple[SortField, ...]]:
    return st.lists(st.builds(SortField, st.sampled_from(fields), st.sampled_from(["asc", "desc"])),
                    min_size=1, max_size=2, unique_by=lambda s: s.field).map(tuple)


def aggs(terms_fields: list[str], date_fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "t": st.builds(TermsAgg, st.sampled_from(terms_fields), st.integers(1, 4)),
        "h": st.builds(DateHistogram, st.sampled_from(date_fields),
                       st.sampled_from(["1h", "6h", "1d", "7d", "90m"])),
    })


def checks(kind: str, leaves: st.SearchStrategy[Query], sort_fields: list[str],
           terms_fields: list[str], date_fields: list[str]) -> st.SearchStrategy[list[Any]]:
    one = st.tuples(queries(leaves), sorts(sort_fields), st.integers(1, 6),
                    aggs(terms_fields, date_fields))
    return st.lists(one, min_size=CHECKS, max_size=CHECKS)


async def _agree(kind: str, bodies: list[dict[str, Any]], cases: list[Any]) -> None:
    docs: list[Document] = [parse_document(b) for b in bodies]
    unique = list({d.id: d for d in docs}.values())
    sources = [d.source() for d in unique]
    ids = [d.id for d in unique]
    with tempfile.TemporaryDirectory() as tmp:
        backend = TantivyBackend(Path(tmp), IndexSettings(writer_heap_mb=32))
        await backend.open(writer=True)
        try:
            assert await backend.write(unique) == []
            for query, sort, page_size, agg in cases:
                await _check(backend, kind, query, sort, page_size, agg, sources, ids)
        finally:
            await backend.close()


async def _check(backend: TantivyBackend, kind: str, query: Query, sort: tuple[SortField, ...],
                 page_size: int, agg: dict[str, Any], sources: list[dict[str, Any]],
                 ids: list[str]) -> None:
    whole = Search(kind, query=query, size=100, aggs=agg)
    want = evaluate(whole, sources, ids)
    got = await backend.search(whole)
    assert got["hits"]["total"] == want["hits"]["total"], query
    assert sorted(h["_id"] for h in got["hits"]["hits"]) == sorted(
        h["_id"] for h in want["hits"]["hits"]), query
    assert buckets(got) == buckets(want), (query, agg)
    ordered = evaluate(Search(kind, query=query, size=100, sort=sort), sources, ids)
    expected = [(h["_id"], h["sort"]) for h in ordered["hits"]["hits"]]
    seen: list[tuple[str, Any]] = []
    after = None
    for _ in range(len(expected) + 2):
        page = await backend.search(Search(kind, query=query, size=page_size, sort=sort,
                                           search_after=after))
        assert page["hits"]["total"] == want["hits"]["total"]
        hits = page["hits"]["hits"]
        if not hits:
            break
        seen += [(h["_id"], h["sort"]) for h in hits]
        after = tuple(hits[-1]["sort"])
    assert seen == expected, (query, sort, page_size)


def _run(coro_fn: Callable[..., Any], *args: Any) -> None:
    asyncio.run(coro_fn(*args))


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(bodies=pages, cases=checks("page", PAGE_LEAVES,
                                  ["fetched_at", "status", "size", "host", "lang", "entities.btc"],
                                  ["host", "lang", "entities.btc", "status", "media.flagged"],
                                  ["fetched_at"]))
def test_pages_agree(bodies: list[dict[str, Any]], cases: list[Any]) -> None:
    _run(_agree, "page", bodies, cases)


@SETTINGS
@given(bodies=observations, cases=checks(
    "observation", OBSERVATION_LEAVES, ["have_fraction", "level", "last_seen", "port", "client"],
    ["ip", "sources", "level", "client"], ["first_seen", "last_seen"]))
def test_observations_agree(bodies: list[dict[str, Any]], cases: list[Any]) -> None:
    _run(_agree, "observation", bodies, cases)
