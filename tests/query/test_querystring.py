"""What people type becomes the query they meant, and mistakes are explained in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from errors import QueryError
from query.model import Bool, Exists, Match, MatchAll, MatchPhrase, Prefix, Range, Search, Term
from query.querystring import MAX_NESTING, MAX_QUERY_CHARS, parse_query, parse_query_string
from query.validate import validate_search

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
        ("fetched_at:>=someday", "'someday' is not a time"),
        ("status:[1 TO]", "a range reads [A TO B]"),
        ("title:", "needs a value"),
    ],
)
def test_errors_are_words(text: str, words: str) -> None:
    with pytest.raises(QueryError, match=None) as caught:
        parse(text)
    assert words in str(caught.value)


@pytest.mark.parametrize("kind", ["page", "service", "observation", "torrent", "hash", "alert"])
def test_star_and_star_star_match_everything_of_every_kind(kind: str) -> None:
    assert parse("*", kind) == MatchAll()
    assert parse("*:*", kind) == MatchAll()
    assert parse("NOT *", kind) == Bool(must=(MatchAll(),), must_not=(MatchAll(),))


def test_field_star_and_exists_mean_the_field_exists() -> None:
    assert parse("title:*") == Exists("title")
    assert parse("_exists_:btc") == Exists("entities.btc")
    assert parse("ip:*", "observation") == Exists("ip")


def test_trailing_wildcards_become_prefixes() -> None:
    assert parse("title:Mark*") == Prefix("title", "mark")
    assert parse("host:abc*") == Prefix("host", "abc")
    assert parse("esc*") == Bool(should=(Prefix("title", "esc"), Prefix("text", "esc")),
                                 minimum_should_match=1)
    assert parse("url:http://a.onion/?q=1*") == Prefix("url", "http://a.onion/?q=1")
    # Kinds without text fields complete their keyword fields (never an IP field).
    q = parse("qB*", "observation")
    assert isinstance(q, Bool) and Prefix("client", "qB") in q.should
    assert all(p.field != "ip" for p in q.should)
    # Escaped and quoted stars are plain characters.
    assert parse(r"url:a\*") == Term("url", "a*")
    assert parse('url:"a*"') == Term("url", "a*")
    assert parse('title:"mark*"') == MatchPhrase("title", "mark*")


def test_bare_words_on_kinds_without_text_fields_skip_ip_unless_an_address() -> None:
    q = parse("qBittorrent", "observation")
    assert isinstance(q, Bool) and all(t.field != "ip" for t in q.should)
    assert Term("client", "qBittorrent") in q.should


def test_a_bare_day_on_the_last_day_of_year_9999_is_that_day() -> None:
    day = datetime(9999, 12, 31, tzinfo=UTC)
    assert parse("fetched_at:9999-12-31") == Range(
        "fetched_at", gte=day, lte=datetime.max.replace(tzinfo=UTC))


def test_relative_times_are_noted() -> None:
    assert parse_query("fetched_at:>now-1d", "page").relative
    assert parse_query("fetched_at:>7d", "page").relative
    assert not parse_query("fetched_at:>2026-11-28T12:00Z title:x", "page").relative


@pytest.mark.parametrize(
    ("text", "kind", "words"),
    [
        ("/esc.*/", "page", "regular expressions such as '/esc.*/' are not supported"),
        ("title:/mark.*/", "page", "regular expressions"),
        ("*esc", "page", "'*esc' starts with a wildcard"),
        ("title:*ark", "page", "starts with a wildcard"),
        ("ma*ket", "page", "has a wildcard inside it"),
        ("ip:127.0.*", "observation", "ip holds ip values"),
        ("status:20*", "page", "status holds long values"),
        ("title:foo-b*", "page", "completes one word"),
        ("*:tea", "page", "'*:' needs a field name"),
        ("(" * 300 + "tea" + ")" * 300, "page", f"deeper than {MAX_NESTING} levels"),
        ("-" * 1500 + "tea", "page", f"deeper than {MAX_NESTING} levels"),
        ("NOT " * 40 + "tea", "page", f"deeper than {MAX_NESTING} levels"),
        ("tea " * 600, "page", f"at most {MAX_QUERY_CHARS} are searched"),
        ("fetched_at:>now-99999999d", "page", "'now-99999999d' is not a time: '99999999d' is "
         "longer than any span of dates (years 1 to 9999)"),
        ("fetched_at:>now-2000000d", "page", "'now-2000000d' is before year 1"),
        ("fetched_at:>now+5y", "page", "'5y' is not a duration"),
        ("fetched_at:<now/d", "page", "'now/d' is not a time"),
        ("fetched_at:10000-01-01", "page", "'10000-01-01' is not a time"),
        ("fetched_at:[0001-01-01T00:00+01:00 TO now]", "page", "falls outside the years 1 to"),
        ("status:" + "9" * 1990, "page", "is not a valid long value"),
        ("status:>" + "9" * 30, "page", "outside the 64-bit whole numbers"),
        ("t " * 900, "page", "more than 1024 clauses"),
    ],
)
def test_refusals_are_words(text: str, kind: str, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        validate_search(Search(kind, query=parse(text, kind)))
    assert words in str(caught.value)


def test_nesting_up_to_the_limit_parses() -> None:
    deep = "(" * MAX_NESTING + "tea" + ")" * MAX_NESTING
    assert parse(deep) == parse("tea")
    assert parse("-" * MAX_NESTING + "tea") == parse("tea")  # an even count cancels out
    odd = parse("-" * (MAX_NESTING - 1) + "tea")
    assert isinstance(odd, Bool) and odd.must_not == (parse("tea"),)
