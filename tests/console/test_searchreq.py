"""Search parameters -> validated request -> model Search (pure functions)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from multidict import MultiDict

from heroes.console.searchreq import (
    RequestError,
    build_search,
    choose_interval,
    decode_after,
    encode_after,
    entity_count_searches,
    parse_request,
)
from query.model import Bool, DateHistogram, Exists, Range, Term, TermsAgg

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_round_trip_of_a_shareable_search() -> None:
    params = MultiDict(
        [
            ("kind", "page"),
            ("q", "tea"),
            ("f", "host:a.onion"),
            ("f", "lang:en"),
            ("has", "btc"),
            ("from", "7d"),
            ("sort", "newest"),
        ]
    )
    req = parse_request(params, NOW)
    again = parse_request(MultiDict(req.params()), NOW)
    assert again == req
    search = build_search(req, NOW)
    assert isinstance(search.query, Bool)
    assert Term("host", "a.onion") in search.query.filter
    assert Exists("entities.btc") in search.query.filter
    assert any(isinstance(f, Range) and f.field == "fetched_at" for f in search.query.filter)
    assert search.aggs["facet:service"] == TermsAgg("host", 10)
    assert isinstance(search.aggs["histogram"], DateHistogram)
    assert search.sort[0].field == "fetched_at" and search.sort[0].order == "desc"


@pytest.mark.parametrize(
    ("params", "param", "quoted"),
    [
        ({"kind": "pages"}, "kind", "'pages'"),
        ({"f": "nosuch:1"}, "f", "'nosuch:1'"),
        ({"has": "cats"}, "has", "'cats'"),
        ({"sort": "up"}, "sort", "'up'"),
        ({"size": "1000"}, "size", "'1000'"),
        ({"from": "last tuesday"}, "from", "'last tuesday'"),
        ({"from": "99999999999d"}, "from", "'99999999999d' is longer than any span of dates"),
        ({"from": "now-99999999d"}, "from", "'now-99999999d'"),
        ({"to": "now-1M"}, "to", "'1M' is not a duration"),
        ({"to": "9999-12-31T23:00-05:00"}, "to", "outside the years 1 to 9999"),
        ({"after": "%%%"}, "after", "'%%%'"),
        ({"after": encode_after([1, "x"])}, "after", "sort=newest"),
        ({"after": encode_after([1, "x" * 2000]), "sort": "newest"}, "after", "too long"),
        ({"after": base64.urlsafe_b64encode(b"[" * 700).decode(), "sort": "newest"}, "after",
         "not a paging cursor"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "to", "'2026-11-01'"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, str], param: str, quoted: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_request(params, NOW)
    assert caught.value.param == param and quoted in caught.value.message


def test_query_text_errors_name_the_box() -> None:
    for q, words in [("nosuchfield:x", "nosuchfield"), ("tea " * 600, "at most 2000"),
                     ("(" * 300 + "x" + ")" * 300, "deeper than 16 levels"),
                     ("/esc.*/", "regular expressions")]:
        req = parse_request({"q": q}, NOW)
        with pytest.raises(RequestError) as caught:
            build_search(req, NOW)
        assert caught.value.param == "q" and words in caught.value.message


def test_relative_times_are_the_one_syntax() -> None:
    week = parse_request({"from": "now-7d"}, NOW).since
    assert week == parse_request({"from": "7d"}, NOW).since == parse_request(
        {"from": "-7d"}, NOW).since == datetime(2026, 11, 22, 12, tzinfo=UTC)
    req = parse_request({"from": "2026-11-01", "to": "now+1d"}, NOW)
    assert req.until == datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_cursor_round_trip_and_intervals() -> None:
    assert decode_after(encode_after([1733000000000, "abc"])) == (1733000000000, "abc")
    assert choose_interval(None, None, NOW) == "1d"
    assert choose_interval(datetime(2026, 11, 29, 11, tzinfo=UTC), None, NOW) == "1m"
    assert choose_interval(datetime(2026, 11, 22, tzinfo=UTC), None, NOW) == "3h"


def test_entity_facet_counts_only_for_pages() -> None:
    assert entity_count_searches(parse_request({"kind": "alert"}, NOW), NOW) == {}
    counts = entity_count_searches(parse_request({"has": "btc"}, NOW), NOW)
    assert "btc" not in counts and set(counts) >= {"emails", "onions"}
    assert all(s.size == 0 for s in counts.values())
