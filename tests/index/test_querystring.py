"""What people type becomes the query they meant, and mistakes are explained in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from index.errors import QueryError
from index.query.model import Bool, Exists, Match, MatchAll, MatchPhrase, Range, Term
from index.query.querystring import parse_query_string

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def parse(text: str, kind: str = "page"):
    return parse_query_string(text, kind, now=NOW)


def test_empty_is_match_all() -> None:
    assert parse("  ") == MatchAll()


def test_fielded_terms_by_type() -> None:
    assert parse("btc:1BoatSLRHtKNngkdXEeobR76b53LETtpyT") == Term(
        "entities.btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
    )
    assert parse("title:market") == Match("title", "market")
    assert parse('title:"blue lamp"') == MatchPhrase("title", "blue lamp")
    assert parse("status:404") == Term("status", 404)
    assert parse("flagged:true") == Term("flagged", True)
    assert parse("infohash:abc") == Term("entities.infohashes", "abc")
    assert parse("infohash:abc", "observation") == Term("infohash", "abc")
    assert parse("lang:*") == Exists("lang")


def test_bare_words_search_text_fields() -> None:
    assert parse("escrow") == Bool(
        should=(Match("title", "escrow"), Match("text", "escrow")), minimum_should_match=1
    )
    q = parse("127.0.0.2", "observation")
    assert isinstance(q, Bool) and Term("ip", "127.0.0.2") in q.should


def test_boolean_operators() -> None:
    q = parse('btc:1A AND title:"x y" -lang:de')
    assert q == Bool(
        must=(Term("entities.btc", "1A"), MatchPhrase("title", "x y")),
        must_not=(Term("lang", "de"),),
    )
    q = parse("lang:en OR lang:fr")
    assert q == Bool(should=(Term("lang", "en"), Term("lang", "fr")), minimum_should_match=1)
    q = parse("NOT (lang:en OR lang:fr)")
    assert isinstance(q, Bool) and q.must == (MatchAll(),) and len(q.must_not) == 1


def test_dates_and_ranges() -> None:
    assert parse("fetched_at:>=now-7d") == Range("fetched_at", gte=NOW - timedelta(days=7))
    day = datetime(2026, 11, 28, tzinfo=UTC)
    assert parse("fetched_at:2026-11-28") == Range(
        "fetched_at", gte=day, lt=day + timedelta(days=1)
    )
    assert parse("status:[200 TO 299]") == Range("status", gte=200, lte=299)
    assert parse("status:{200 TO *]") == Range("status", gt=200)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("colour:blue", "page has no field 'colour'"),
        ("(title:x", "never closed"),
        ("title:x )", "unexpected ')'"),
        ("status:abc", "'abc' is not a valid long"),
        ("fetched_at:>=someday", "'someday' is not a valid date"),
        ("status:[1 TO]", "a range reads [A TO B]"),
        ("title:", "needs a value"),
    ],
)
def test_errors_are_words(text: str, words: str) -> None:
    with pytest.raises(QueryError, match=None) as caught:
        parse(text)
    assert words in str(caught.value)
