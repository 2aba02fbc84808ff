"""Unit tests of the Elasticsearch layout: names, mappings, text shadows, query rewrite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from documents import KINDS, FieldType, Observation, Page, Torrent
from index.backends import es_mappings as layout
from index.backends.elasticsearch import _result, _sort_value
from query.model import Search, SortField, TermsAgg

T = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _props(mapping: dict, path: str) -> dict:
    node = mapping["properties"]
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[part]["properties"]
    return node[parts[-1]]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_field_is_mapped_with_its_type(kind: str) -> None:
    mapping = layout.mapping_for(kind)
    assert mapping["dynamic"] == "false"
    assert mapping["_meta"]["heroes_mapping_version"] == layout.MAPPING_VERSION
    expected = {FieldType.KEYWORD: "keyword", FieldType.DATE: "date", FieldType.LONG: "long",
                FieldType.DOUBLE: "double", FieldType.BOOL: "boolean", FieldType.IP: "ip",
                FieldType.TEXT: "text"}
    for path, ftype in KINDS[kind].FIELDS.items():
        assert _props(mapping, path)["type"] == expected[ftype], path
        if ftype is FieldType.TEXT:
            assert _props(mapping, f"{layout.SHADOW}.{path}")["analyzer"] == "whitespace"
    assert mapping["properties"][layout.ID_FIELD] == {"type": "keyword"}


def test_peer_address_is_an_ip_field() -> None:
    assert layout.mapping_for("observation")["properties"]["ip"]["type"] == "ip"


def test_monthly_indices_for_pages_and_observations_single_for_the_rest() -> None:
    page = Page(url="http://abc.onion/a", fetched_at=T)
    obs = Observation(infohash="a" * 40, ip="127.10.0.9", port=1,
                      first_seen=datetime(2026, 9, 30, 23, 59, tzinfo=UTC), last_seen=T)
    torrent = Torrent(infohash="b" * 40, first_seen=T)
    assert layout.target_index("p", page) == "p-page-2026.11"
    # The month of the first sighting, which does not move as the peer keeps being seen.
    assert layout.target_index("p", obs) == "p-observation-2026.09"
    assert layout.target_index("p", torrent) == "p-torrent-all"
    template = layout.template_for("p", "page", shards=1, replicas=0)
    assert template["index_patterns"] == ["p-page-*"]
    assert template["template"]["aliases"] == {"p-page": {}}
    assert template["version"] == layout.MAPPING_VERSION


def test_text_shadow_follows_the_shared_analysis() -> None:
    page = Page(url="http://abc.onion/a", fetched_at=T, title="Foo.Bar  BAZ_qux",
                text="x" * 45 + " end")
    body = layout.body_for(page)
    assert body[layout.ID_FIELD] == page.id
    assert body["fts"]["title"] == "foo bar baz qux"
    # A dropped (too long) token leaves a gap token so phrase positions stay right.
    assert body["fts"]["text"] == "_ end"
    assert layout.clean_source(body) == page.source()


def test_nested_text_fields_keep_one_value_per_element() -> None:
    torrent = Torrent(infohash="b" * 40, first_seen=T,
                      files=[{"path": "a/B.txt", "size": 1}, {"path": "c.txt", "size": 2}])
    assert layout.body_for(torrent)["fts"] == {"name": "", "files.path": ["a b txt", "c txt"]}


def test_match_queries_are_rewritten_to_shadows_with_tokenised_text() -> None:
    query = {"bool": {"must": [{"match": {"title": {"query": "Foo.BAR", "operator": "and"}}}],
                      "filter": [{"match_phrase": {"text": {"query": "a " + "y" * 50 + " b"}}},
                                 {"exists": {"field": "title"}}, {"exists": {"field": "host"}},
                                 {"term": {"host": {"value": "match"}}}]}}
    out = layout.rewrite_query("page", query)
    assert out["bool"]["must"][0] == {
        "match": {"fts.title": {"query": "foo bar", "operator": "and"}}}
    # A dropped long token inside a phrase leaves one position open, whatever fills it.
    assert out["bool"]["filter"][0] == {"span_near": {"clauses": [
        {"span_term": {"fts.text": "a"}}, {"span_gap": {"fts.text": 1}},
        {"span_term": {"fts.text": "b"}}], "slop": 0, "in_order": True}}
    assert out["bool"]["filter"][1] == {"exists": {"field": "fts.title"}}
    assert out["bool"]["filter"][2] == {"exists": {"field": "host"}}
    assert out["bool"]["filter"][3] == {"term": {"host": {"value": "match"}}}


def test_missing_sort_values_become_none() -> None:
    assert _sort_value(2**63 - 1, FieldType.DATE) is None
    assert _sort_value(-(2**63), FieldType.LONG) is None
    assert _sort_value("Infinity", FieldType.DOUBLE) is None
    assert _sort_value("-Infinity", FieldType.DOUBLE) is None
    assert _sort_value(0.5, FieldType.DOUBLE) == 0.5
    assert _sort_value(None, FieldType.KEYWORD) is None


def test_result_shape_strips_elasticsearch_extras() -> None:
    search = Search(kind="observation", sort=(SortField("last_seen", "desc"),),
                    aggs={"ips": TermsAgg("ip")})
    resp = {
        "took": 3, "timed_out": False, "_shards": {"total": 1},
        "hits": {"total": {"value": 1, "relation": "eq"}, "max_score": None, "hits": [
            {"_index": "x-observation-2026.11", "_id": "abc", "_score": None,
             "_source": {"ip": "127.10.0.9", "doc_id": "abc", "fts": {}}, "sort": [1, "abc"]}]},
        "aggregations": {"ips": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
                                 "buckets": [{"key": "127.10.0.9", "doc_count": 1}]}},
    }
    result = _result(search, resp)
    assert "_shards" not in result
    assert result["hits"]["hits"] == [{"_index": "observation", "_id": "abc", "_score": None,
                                       "_source": {"ip": "127.10.0.9"}, "sort": [1, "abc"]}]
    assert result["aggregations"] == {"ips": {"buckets": [{"key": "127.10.0.9", "doc_count": 1}]}}


def test_prefixes_on_text_fields_go_to_their_shadows() -> None:
    query = {"bool": {"should": [{"prefix": {"title": {"value": "mark"}}},
                                 {"prefix": {"host": {"value": "Abc"}}}]}}
    assert layout.rewrite_query("page", query) == {"bool": {"should": [
        {"prefix": {"fts.title": {"value": "mark"}}}, {"prefix": {"host": {"value": "Abc"}}}]}}


def test_minimum_should_match_above_the_should_clauses_matches_nothing() -> None:
    # Elasticsearch would ignore it without should clauses; the model matches nothing.
    query = {"bool": {"must_not": [{"term": {"host": {"value": "a"}}}], "minimum_should_match": 1}}
    assert layout.rewrite_query("page", query) == {"bool": {"must_not": [{"match_all": {}}]}}
    kept = {"bool": {"should": [{"match_all": {}}], "minimum_should_match": 1}}
    assert layout.rewrite_query("page", kept) == kept


def test_phrases_without_gaps_stay_match_phrase() -> None:
    assert layout.phrase_query("fts.title", "Green-TEA") == {
        "match_phrase": {"fts.title": {"query": "green tea"}}}
    # Leading dropped tokens do not count; nothing left matches nothing, as in the model.
    assert layout.phrase_query("fts.title", "y" * 50 + " tea") == {
        "match_phrase": {"fts.title": {"query": "tea"}}}
    assert layout.phrase_query("fts.title", "...") == {"match_phrase": {"fts.title": {"query": ""}}}
