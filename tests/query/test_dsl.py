"""The JSON DSL front end, validation and date resolution: pure functions, no backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.timespec import parse_time
from errors import QueryError
from query.analysis import phrase_terms, positioned_tokens, tokens
from query.dsl import from_dsl, to_dsl, validate_search
from query.model import (
    MAX_CLAUSES,
    MAX_DEPTH,
    MAX_TERMS,
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

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MS = 1_795_867_200_000  # NOW in epoch ms


@pytest.mark.parametrize("text,expected", [
    ("now", NOW),
    ("now-7d", NOW - timedelta(days=7)),
    ("now-12h", NOW - timedelta(hours=12)),
    ("now-30m", NOW - timedelta(minutes=30)),
    ("now+1w", NOW + timedelta(weeks=1)),
    ("2026-11-28T13:00:00+01:00", NOW),
    ("2026-11-28T12:00:00Z", NOW),
    ("2026-11-28", datetime(2026, 11, 28, tzinfo=UTC)),
])
def test_parse_time(text: str, expected: datetime) -> None:
    got = parse_time(text, NOW)
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize("text", ["now-7", "now-1M", "now/d", "yesterday", "2026-13-01"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(QueryError, match=repr(text).replace("+", r"\+")):
        parse_time(text, NOW)


def test_from_dsl_reads_every_operator() -> None:
    body = {
        "query": {"bool": {
            "must": [{"match": {"text": {"query": "green tea", "operator": "and"}}}],
            "filter": {"range": {"fetched_at": {"gte": "now-1d", "lt": MS,
                                                "format": "epoch_millis"}}},
            "should": [{"match_phrase": {"title": "tea market"}}, {"term": {"status": "200"}},
                       {"terms": {"lang": ["en", "de"]}}],
            "must_not": [{"exists": {"field": "error"}}],
            "minimum_should_match": "1",
        }},
        "size": 5,
        "sort": [{"fetched_at": {"order": "desc"}}, "host", {"doc_id": "asc"}],
        "search_after": ["2026-11-27T00:00:00Z", "h", "abc"],
        "aggs": {"hosts": {"terms": {"field": "host", "size": 3}},
                 "days": {"date_histogram": {"field": "fetched_at", "fixed_interval": "1d"}}},
    }
    search = from_dsl("page", body, now=NOW)
    assert search.query == Bool(
        must=(Match("text", "green tea", "and"),),
        filter=(Range("fetched_at", gte=MS - 86_400_000, lt=MS),),
        should=(MatchPhrase("title", "tea market"), Term("status", 200),
                Terms("lang", ("en", "de"))),
        must_not=(Exists("error"),), minimum_should_match=1)
    assert search.sort == (SortField("fetched_at", "desc"), SortField("host", "asc"))
    assert search.search_after == (MS - 36 * 3_600_000, "h", "abc")
    assert search.aggs == {"hosts": TermsAgg("host", 3), "days": DateHistogram("fetched_at", "1d")}
    assert search.size == 5


def test_to_dsl_round_trips_and_adds_the_tie_breaker() -> None:
    search = from_dsl("page", {
        "query": {"bool": {"filter": [{"range": {"fetched_at": {"gte": "now-7d"}}}],
                           "must": [{"match": {"title": "tea"}}]}},
        "sort": [{"fetched_at": "desc"}], "search_after": [MS, "abc"],
        "aggs": {"h": {"terms": {"field": "host"}}}}, now=NOW)
    body = to_dsl(search)
    assert body["sort"] == [{"fetched_at": {"order": "desc", "missing": "_last"}},
                            {"doc_id": {"order": "asc"}}]
    assert body["track_total_hits"] is True
    assert body["search_after"] == [MS, "abc"]
    assert body["query"]["bool"]["filter"] == [
        {"range": {"fetched_at": {"gte": MS - 7 * 86_400_000, "format": "epoch_millis"}}}]
    assert body["aggs"]["h"]["terms"]["shard_size"] >= 1000
    assert from_dsl("page", body, now=NOW).query == search.query


def test_to_dsl_default_sort_is_relevance_then_id() -> None:
    body = to_dsl(Search("page"))
    assert body["sort"] == [{"_score": {"order": "desc"}}, {"doc_id": {"order": "asc"}}]
    assert body["query"] == {"match_all": {}}


def test_missing_sort_values_become_elasticsearch_sentinels() -> None:
    body = to_dsl(Search("page", sort=(SortField("size", "asc"),), search_after=(None, "x")))
    assert body["search_after"] == [2**63 - 1, "x"]


def test_prefix_reads_and_compiles_and_text_prefixes_are_lowered() -> None:
    search = from_dsl("page", {"query": {"bool": {"should": [
        {"prefix": {"host": "Abc"}}, {"prefix": {"title": {"value": "MARK"}}}]}}})
    assert search.query.should == (Prefix("host", "Abc"), Prefix("title", "mark"))
    assert to_dsl(search)["query"]["bool"]["should"] == [
        {"prefix": {"host": {"value": "Abc"}}}, {"prefix": {"title": {"value": "mark"}}}]


def test_histogram_intervals_go_out_in_milliseconds() -> None:
    body = to_dsl(Search("page", aggs={"w": DateHistogram("fetched_at", "1w")}))
    assert body["aggs"]["w"]["date_histogram"]["fixed_interval"] == f"{7 * 86_400_000}ms"


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"match_all": {}}
    for _ in range(depth):
        node = {"bool": {"must": [node]}}
    return node


def test_depth_and_size_limits_are_query_errors_not_recursion() -> None:
    assert from_dsl("page", {"query": _nested(MAX_DEPTH - 1)})
    with pytest.raises(QueryError, match=f"deeper than {MAX_DEPTH}"):
        from_dsl("page", {"query": _nested(5000)})
    deep: Query = MatchAll()
    for _ in range(5000):
        deep = Bool(must=(deep,))
    with pytest.raises(QueryError, match=f"deeper than {MAX_DEPTH}"):
        validate_search(Search("page", query=deep))
    wide = Bool(should=tuple(Term("host", str(i)) for i in range(MAX_CLAUSES + 1)))
    with pytest.raises(QueryError, match=f"more than {MAX_CLAUSES} clauses"):
        validate_search(Search("page", query=wide))
    many = Terms("host", tuple(str(i) for i in range(MAX_TERMS + 1)))
    with pytest.raises(QueryError, match=f"more than the {MAX_TERMS}"):
        validate_search(Search("page", query=many))
    words = Match("text", " ".join(["tea"] * (MAX_CLAUSES + 1)))
    with pytest.raises(QueryError, match="clauses"):
        validate_search(Search("page", query=words))


@pytest.mark.parametrize("body,words", [
    ({"query": {"prefix": {"status": "2"}}}, ["prefix on 'status'", "keyword, text"]),
    ({"query": {"prefix": {"title": "foo bar"}}}, ["'foo bar' is not one word"]),
    ({"query": {"prefix": {"host": ""}}}, ["field:*"]),
    ({"query": {"prefix": {"host": "a" * 300}}}, ["longer than 256 bytes"]),
    ({"query": {"prefix": {"host": 5}}}, ["start of a value as text"]),
    ({"query": {"regexp": {"host": "a.*"}}}, ["unsupported query type 'regexp'"]),
    ({"query": {"range": {"fetched_at": {"gte": 10**20}}}}, ["years 1 to 9999"]),
    ({"query": {"range": {"fetched_at": {"gte": "now-99999999d"}}}}, ["'now-99999999d'"]),
    ({"query": {"term": {"fetched_at": "9999-12-31T23:00-05:00"}}}, ["years 1 to 9999"]),
    ({"query": {"range": {"status": {"lt": 2**64}}}}, ["64-bit"]),
    ({"query": {"term": {"text": "x"}}}, ["term", "'text'"]),
    ({"query": {"match": {"host": "x"}}}, ["match", "'host'"]),
    ({"query": {"match": {"nope": "x"}}}, ["query.match", "'nope'"]),
    ({"query": {"range": {"host": {"gte": 1}}}}, ["range", "'host'"]),
    ({"query": {"range": {"fetched_at": {"gte": "last week"}}}}, ["fetched_at.gte", "last week"]),
    ({"query": {"range": {"status": {"gte": "many"}}}}, ["status", "many"]),
    ({"query": {"range": {"status": {"gte": 1, "gt": 2}}}}, ["gte or gt"]),
    ({"query": {"term": {"status": "abc"}}}, ["status", "'abc'"]),
    ({"query": {"term": {"observation_ip": "x"}}}, ["observation_ip"]),
    ({"query": {"bool": {"must": [{"wildcard": {"host": "a*"}}]}}},
     ["query.bool.must[0]", "wildcard"]),
    ({"query": {"bool": {"must": [{"match": {"text": "a"}}, {"term": {"text": "b"}}]}}}, ["term"]),
    ({"query": {"match_phrase": {"text": {"query": "a b", "slop": 2}}}}, ["slop"]),
    ({"query": {"bool": {"should": [], "minimum_should_match": 0}}}, ["minimum_should_match"]),
    ({"aggs": {"x": {"terms": {"field": "title"}}}}, ["'x'", "'title'"]),
    ({"aggs": {"x": {"date_histogram": {"field": "host", "fixed_interval": "1d"}}}}, ["'host'"]),
    ({"aggs": {"x": {"date_histogram": {"field": "fetched_at", "fixed_interval": "1M"}}}}, ["1M"]),
    ({"aggs": {"x": {"date_histogram": {"field": "fetched_at", "calendar_interval": "1d"}}}},
     ["calendar_interval"]),
    ({"aggs": {"x": {"avg": {"field": "size"}}}}, ["'avg'"]),
    ({"sort": ["title"]}, ["sort", "'title'"]),
    ({"sort": [{"doc_id": "asc"}, "host"]}, ["sort[0]", "tie-breaker"]),
    ({"search_after": [1, "x"]}, ["search_after"]),
    ({"sort": ["status"], "search_after": [1]}, ["search_after needs 2"]),
    ({"size": 100_000}, ["size"]),
    ({"from": 10}, ["'from'"]),
    ({"track_total_hits": 100}, ["track_total_hits"]),
])
def test_from_dsl_names_the_bad_part(body: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(QueryError) as info:
        from_dsl("page", body, now=NOW)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_unknown_kind() -> None:
    with pytest.raises(QueryError, match="'gadget'"):
        from_dsl("gadget", {})
    with pytest.raises(QueryError, match="'gadget'"):
        validate_search(Search("gadget"))


def test_validate_normalises_values() -> None:
    search = validate_search(Search("observation", query=Bool(filter=(
        Term("ip", "0:0:0:0:0:0:0:1"), Term("level", "2"), Terms("have_fraction", (1, "0.5")),
        Range("last_seen", gte=NOW), Term("first_seen", "2026-11-28T12:00:00Z")))))
    assert search.query == Bool(filter=(
        Term("ip", "::1"), Term("level", 2), Terms("have_fraction", (1.0, 0.5)),
        Range("last_seen", gte=MS), Term("first_seen", MS)))
    with pytest.raises(QueryError, match="'not-an-ip'"):
        validate_search(Search("observation", query=Term("ip", "not-an-ip")))
    with pytest.raises(QueryError, match="True"):
        validate_search(Search("observation", query=Term("level", True)))


def test_tokens_follow_tantivy_default() -> None:
    assert tokens("Green-TEA, ÜBER_straße 3.14") == ["green", "tea", "über", "straße", "3", "14"]
    long = "y" * 40
    assert positioned_tokens(f"a {long} b") == [(0, "a"), (2, "b")]
    assert positioned_tokens("a " + "é" * 20 + " b") == [(0, "a"), (2, "b")]  # 40 bytes
    assert phrase_terms(f"{long} a {long} b") == [(0, "a"), (2, "b")]
    assert tokens("...") == []
