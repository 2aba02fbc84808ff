"""The contract every search backend passes; subclass it per backend.

A subclass overrides the ``backend`` fixture: it yields a backend opened as the writer,
empty at the start of each test. Expected answers come from the reference evaluator
(:mod:`query.reference`) over the same documents, plus a few counted by hand.
Relevance order is backend-specific, so ``_score`` sorts compare hit sets only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from documents import Document, parse_document
from errors import QueryError
from index.backends.base import Backend
from query.dsl import from_dsl
from query.model import Search, SortField
from query.querystring import parse_query_string
from query.reference import evaluate
from tests.index.examples import HOSTS, NOW, example_documents, sources_of

# (kind, ES-style body) - every operator, field type and aggregation of the model.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("page", {"query": {"match_all": {}}}),
    ("page", {"query": {"match": {"text": "green tea"}}}),
    ("page", {"query": {"match": {"text": {"query": "green tea", "operator": "and"}}}}),
    ("page", {"query": {"match": {"text": "GRÜNER"}}}),
    ("page", {"query": {"match": {"text": "..."}}}),
    ("page", {"query": {"match": {"title": "market"}}}),
    ("page", {"query": {"match_phrase": {"text": "green tea"}}}),
    ("page", {"query": {"match_phrase": {"text": "tea green"}}}),
    ("page", {"query": {"match_phrase": {"text": "black tea"}}}),
    ("page", {"query": {"match_phrase": {"text": f"black {'y' * 41} tea"}}}),
    ("page", {"query": {"match_phrase": {"text": "market report tea"}}}),
    ("page", {"query": {"term": {"host": HOSTS[1]}}}),
    ("page", {"query": {"term": {"entities.btc": "1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}}),
    ("page", {"query": {"term": {"status": 200}}}),
    ("page", {"query": {"term": {"lang": ""}}}),
    ("page", {"query": {"term": {"flagged": True}}}),
    ("page", {"query": {"term": {"media.flagged": "false"}}}),
    ("page", {"query": {"term": {"fetched_at": "2026-11-20T00:30:00Z"}}}),
    ("page", {"query": {"terms": {"lang": ["de", "fr", "xx"]}}}),
    ("page", {"query": {"terms": {"status": [404, 500]}}}),
    ("page", {"query": {"range": {"status": {"gte": 300}}}}),
    ("page", {"query": {"range": {"size": {"gt": 300, "lte": 1200}}}}),
    ("page", {"query": {"range": {"size": {"gte": 299.5, "lt": 800.5}}}}),
    ("page", {"query": {"range": {"fetched_at": {"gte": "2026-11-22T00:00:00Z",
                                                 "lt": "2026-11-24T00:00:00Z"}}}}),
    ("page", {"query": {"range": {"fetched_at": {"gt": "now-5d"}}}}),
    ("page", {"query": {"exists": {"field": "size"}}}),
    ("page", {"query": {"exists": {"field": "entities.emails"}}}),
    ("page", {"query": {"exists": {"field": "media.sha256"}}}),
    ("page", {"query": {"bool": {"must": [{"match": {"text": "tea"}}],
                                 "filter": [{"term": {"lang": "en"}}],
                                 "must_not": [{"term": {"status": 301}}]}}}),
    ("page", {"query": {"bool": {"should": [{"term": {"lang": "de"}},
                                            {"match": {"title": "market"}}]}}}),
    ("page", {"query": {"bool": {"should": [{"term": {"lang": "en"}}, {"match": {"text": "tea"}},
                                            {"range": {"size": {"gte": 1000}}}],
                                 "minimum_should_match": 2}}}),
    ("page", {"query": {"bool": {"filter": [{"term": {"status": 200}}],
                                 "should": [{"match": {"text": "tea"}}]}}}),
    ("page", {"query": {"bool": {"must_not": [{"exists": {"field": "size"}}]}}}),
    ("page", {"query": {"bool": {}}}),
    ("page", {"query": {"bool": {"must": [{"bool": {"should": [
        {"match_phrase": {"title": "green tea"}}, {"term": {"lang": "fr"}}]}}],
        "must_not": [{"bool": {"filter": [{"term": {"status": 404}}]}}]}}}),
    ("page", {"query": {"bool": {"should": [{"term": {"lang": "en"}}],
                                 "minimum_should_match": 2}}}),
    ("page", {"sort": [{"fetched_at": "desc"}], "size": 100}),
    ("page", {"sort": [{"size": "asc"}], "size": 100}),
    ("page", {"sort": [{"size": "desc"}, {"fetched_at": "asc"}], "size": 100}),
    ("page", {"sort": [{"entities.btc": "asc"}], "size": 100}),
    ("page", {"sort": [{"entities.emails": "desc"}], "size": 100}),
    ("page", {"sort": [{"host": "asc"}, {"status": "desc"}], "size": 100}),
    ("page", {"size": 0, "aggs": {"hosts": {"terms": {"field": "host"}},
                                  "langs": {"terms": {"field": "lang", "size": 2}},
                                  "btc": {"terms": {"field": "entities.btc"}},
                                  "status": {"terms": {"field": "status"}},
                                  "flag": {"terms": {"field": "media.flagged"}},
                                  "days": {"date_histogram": {"field": "fetched_at",
                                                              "fixed_interval": "1d"}},
                                  "hours": {"date_histogram": {"field": "fetched_at",
                                                               "fixed_interval": "6h"}}}}),
    ("page", {"query": {"match": {"text": "tea"}}, "size": 3,
              "aggs": {"hosts": {"terms": {"field": "host", "size": 1}}}}),
    ("service", {"query": {"term": {"up": True}}, "sort": [{"page_count": "desc"}]}),
    ("service", {"query": {"range": {"last_seen": {"gte": "now-2d"}}}}),
    ("service", {"query": {"exists": {"field": "last_up"}}}),
    ("service", {"query": {"match": {"title": "market"}},
                 "aggs": {"servers": {"terms": {"field": "server"}}}}),
    ("observation", {"query": {"term": {"ip": "0:0:0:0:0:0:0:1"}}}),
    ("observation", {"query": {"terms": {"ip": ["127.0.0.2", "127.0.0.9"]}}}),
    ("observation", {"query": {"range": {"have_fraction": {"gte": 0.5}}}}),
    ("observation", {"query": {"term": {"have_fraction": 0.25}}}),
    ("observation", {"query": {"bool": {"filter": [{"term": {"infohash": "1" * 40}},
                                                   {"range": {"level": {"gte": 1}}}]}}}),
    ("observation", {"sort": [{"have_fraction": "asc"}, {"port": "desc"}], "size": 10}),
    ("observation", {"sort": [{"last_seen": "desc"}], "size": 10,
                     "aggs": {"ips": {"terms": {"field": "ip"}},
                              "sources": {"terms": {"field": "sources"}},
                              "levels": {"terms": {"field": "level"}},
                              "clients": {"terms": {"field": "client", "size": 1}},
                              "hours": {"date_histogram": {"field": "first_seen",
                                                           "fixed_interval": "12h"}}}}),
    ("torrent", {"query": {"match": {"files.path": "png"}}}),
    ("torrent", {"query": {"match_phrase": {"files.path": "readme png"}}}),
    ("torrent", {"query": {"match_phrase": {"name": "sample set"}}}),
    ("torrent", {"query": {"exists": {"field": "found_on"}}, "sort": [{"total_size": "asc"}]}),
    ("hash", {"query": {"terms": {"type": ["sha256", "md5"]}},
              "aggs": {"lists": {"terms": {"field": "list"}}}}),
    ("hash", {"query": {"range": {"added_at": {"lte": "2026-11-02T00:00:00Z"}}},
              "sort": [{"added_at": "asc"}]}),
    ("alert", {"query": {"bool": {"must": [{"match": {"summary": "flagged"}}],
                                  "filter": [{"term": {"status": "new"}}]}}}),
    ("page", {"query": {"prefix": {"host": "market"}}}),
    ("page", {"query": {"prefix": {"text": {"value": "GR"}}}}),
    ("page", {"query": {"bool": {"must": [{"prefix": {"title": "tea"}}],
                                 "must_not": [{"prefix": {"lang": "d"}}]}}}),
    ("alert", {"query": {"term": {"matched.kind": "page"}},
               "aggs": {"sev": {"terms": {"field": "severity"}},
                        "count": {"terms": {"field": "count"}}}}),
]

# The query-string syntax analysts know from Kibana, on every kind: match everything,
# field exists, trailing wildcards on keyword and text fields.
QUERY_STRINGS: list[tuple[str, str]] = [
    *((kind, text) for kind in ("page", "service", "observation", "torrent", "hash", "alert")
      for text in ("*", "*:*", "NOT *")),
    ("page", "title:*"), ("page", "lang:*"), ("page", "size:*"), ("page", "email:*"),
    ("page", "media.sha256:*"), ("page", "_exists_:entities.btc"),
    ("page", "tea*"), ("page", "title:mark*"), ("page", "text:GR*"), ("page", "title:ün*"),
    ("page", "host:market*"), ("page", "url:http*"), ("page", "btc:1A*"), ("page", "lang:e*"),
    ("page", "te* AND -lang:de"), ("page", "text:x*"), ("page", "NOT text:tea*"),
    ("service", "server:ng*"), ("service", "title:*"), ("service", "title:sh*"),
    ("service", "last_up:*"), ("service", "gre*"),
    ("observation", "client:q*"), ("observation", "qB*"), ("observation", "ip:*"),
    ("observation", "127.0.0.2"), ("observation", "sources:*"), ("observation", "have_fraction:*"),
    ("torrent", "name:geo*"), ("torrent", "files.path:im*"), ("torrent", "found_on:*"),
    ("torrent", "infohash:1*"), ("torrent", "png*"),
    ("hash", "value:ab*"), ("hash", "type:sha*"), ("hash", "lab*"),
    ("alert", "summary:flag*"), ("alert", "acknowledged_by:*"), ("alert", "rule:sw*"),
]

# Hand-counted totals for some of the cases, so the reference itself is checked too.
HAND_COUNTED = {
    ("page", '{"query": {"match": {"text": "green tea"}}}'): 6,
    ("page", '{"query": {"match_phrase": {"text": "green tea"}}}'): 3,
    ("page", '{"query": {"match_phrase": {"text": "black tea"}}}'): 1,
    ("page", '{"query": {"term": {"status": 200}}}'): 5,
    ("page", '{"query": {"exists": {"field": "entities.emails"}}}'): 2,
    ("observation", '{"query": {"term": {"ip": "0:0:0:0:0:0:0:1"}}}'): 1,
    ("torrent", '{"query": {"match_phrase": {"files.path": "readme png"}}}'): 0,
    ("page", '{"query": {"prefix": {"host": "market"}}}'): 3,
}
HAND_COUNTED_STRINGS = {
    ("page", "*"): 8, ("observation", "*:*"): 4, ("page", "NOT *"): 0,
    ("page", "title:mark*"): 3, ("page", "email:*"): 2, ("observation", "qB*"): 2,
    ("service", "last_up:*"): 1, ("alert", "acknowledged_by:*"): 2,
}


def buckets(result: dict[str, Any]) -> dict[str, list[tuple[Any, int]]]:
    aggs = result.get("aggregations") or {}
    return {name: [(b["key"], b["doc_count"]) for b in agg["buckets"]]
            for name, agg in aggs.items()}


def assert_same(search: Search, got: dict[str, Any], want: dict[str, Any]) -> None:
    """Totals, hits (order for field sorts, sets otherwise) and aggregation buckets agree."""
    assert got["hits"]["total"] == want["hits"]["total"], search
    got_ids = [h["_id"] for h in got["hits"]["hits"]]
    want_ids = [h["_id"] for h in want["hits"]["hits"]]
    field_sort = bool(search.sort) and all(s.field != "_score" for s in search.sort)
    if field_sort:
        assert got_ids == want_ids, search
        assert [h["sort"] for h in got["hits"]["hits"]] == [h["sort"] for h in want["hits"]["hits"]]
    elif search.size >= want["hits"]["total"]["value"]:
        assert sorted(got_ids) == sorted(want_ids), search
    else:
        assert len(got_ids) == len(want_ids), search
    assert buckets(got) == buckets(want), search
    for hit in got["hits"]["hits"]:
        assert hit["_index"] == search.kind


class BackendContract:
    """Subclasses provide ``backend``: an open, writable, empty backend per test."""

    pytestmark: ClassVar = [pytest.mark.asyncio(loop_scope="session")]

    @pytest.fixture
    async def backend(self) -> AsyncIterator[Backend]:  # pragma: no cover - overridden
        raise NotImplementedError
        yield

    @pytest.fixture
    async def loaded(self, backend: Backend) -> tuple[Backend, list[Document]]:
        docs = example_documents()
        assert await backend.write(docs) == []
        await backend.refresh()
        return backend, docs

    async def test_write_count_get(self, loaded: tuple[Backend, list[Document]]) -> None:
        backend, docs = loaded
        for kind in {d.KIND for d in docs}:
            mine = [d for d in docs if d.KIND == kind]
            assert await backend.count(kind) == len(mine)
            got = await backend.get(kind, [d.id for d in mine] + ["0" * 32])
            assert got == {d.id: d.source() for d in mine}

    async def test_rewrite_is_idempotent(self, loaded: tuple[Backend, list[Document]]) -> None:
        backend, docs = loaded
        assert await backend.write(docs) == []
        changed = docs[0].model_copy(update={"title": "Renamed listing"})
        assert changed.id == docs[0].id
        assert await backend.write([changed, changed]) == []
        await backend.refresh()
        assert await backend.count("page") == sum(d.KIND == "page" for d in docs)
        assert (await backend.get("page", [changed.id]))[changed.id]["title"] == "Renamed listing"
        hits = await backend.search(from_dsl("page", {"query": {"match": {"title": "renamed"}}}))
        assert [h["_id"] for h in hits["hits"]["hits"]] == [changed.id]
        gone = await backend.search(from_dsl("page", {"query": {"match": {"title": "green"}}}))
        assert changed.id not in [h["_id"] for h in gone["hits"]["hits"]]

    async def test_delete(self, loaded: tuple[Backend, list[Document]]) -> None:
        backend, docs = loaded
        pages = [d for d in docs if d.KIND == "page"]
        assert await backend.delete("page", [pages[0].id, pages[1].id, "0" * 32]) == 2
        await backend.refresh()
        assert await backend.count("page") == len(pages) - 2
        assert await backend.get("page", [pages[0].id]) == {}
        assert await backend.delete("page", [pages[0].id]) == 0

    async def test_rejected_documents_do_not_fail_the_batch(self, backend: Backend) -> None:
        good = parse_document({"kind": "page", "url": "http://good.onion/", "title": "fine",
                               "fetched_at": "2026-11-28T12:00:00Z"})
        long_link = parse_document({"kind": "page", "url": "http://bad.onion/1",
                                    "fetched_at": "2026-11-28T12:00:00Z",
                                    "links": ["http://bad.onion/" + "a" * 40_000]})
        # Validation refuses such a size; a backend must still reject one that gets past it.
        too_big = parse_document({"kind": "page", "url": "http://bad.onion/2",
                                  "fetched_at": "2026-11-28T12:00:00Z"}).model_copy(
                                      update={"size": 2**64})
        rejected = await backend.write([long_link, good, too_big])
        assert {(r.kind, r.doc_id) for r in rejected} == {("page", long_link.id),
                                                          ("page", too_big.id)}
        assert all(r.reason for r in rejected)
        await backend.refresh()
        assert await backend.count("page") == 1
        assert list(await backend.get("page", [good.id, long_link.id])) == [good.id]

    async def test_every_operator_agrees_with_reference(
            self, loaded: tuple[Backend, list[Document]]) -> None:
        # One loaded index for all cases: building one per case costs more than the queries.
        backend, docs = loaded
        for i, (kind, body) in enumerate(CASES):
            search = from_dsl(kind, body, now=NOW)
            sources, ids = sources_of(docs, kind)
            want = evaluate(search, sources, ids)
            got = await backend.search(search)
            try:
                assert_same(search, got, want)
                counted = HAND_COUNTED.get((kind, json.dumps(body)))
                assert counted is None or got["hits"]["total"]["value"] == counted
            except AssertionError as exc:
                raise AssertionError(f"case {i} ({kind}) {json.dumps(body)}:\n got {got}\n"
                                     f" want {want}") from exc

    async def test_query_strings_agree_with_reference(
            self, loaded: tuple[Backend, list[Document]]) -> None:
        backend, docs = loaded
        for kind, text in QUERY_STRINGS:
            search = Search(kind, query=parse_query_string(text, kind, now=NOW), size=100)
            sources, ids = sources_of(docs, kind)
            want = evaluate(search, sources, ids)
            got = await backend.search(search)
            try:
                assert_same(search, got, want)
                counted = HAND_COUNTED_STRINGS.get((kind, text))
                assert counted is None or got["hits"]["total"]["value"] == counted
            except AssertionError as exc:
                raise AssertionError(f"{kind} {text!r}:\n got {got}\n want {want}") from exc
        assert set(HAND_COUNTED_STRINGS) <= set(QUERY_STRINGS)

    @pytest.mark.parametrize("sort", [
        [("fetched_at", "desc")], [("status", "asc")], [("status", "desc"), ("host", "asc")],
        [("size", "asc")], [("size", "desc")], [("lang", "asc"), ("size", "desc")],
        [("entities.btc", "desc")], [("job", "asc")],
    ])
    async def test_search_after_pages_through_everything(
            self, backend: Backend, sort: list[tuple[str, str]]) -> None:
        # Many equal sort values, missing values and a page size that splits the ties.
        docs = [parse_document({
            "kind": "page", "url": f"http://tie.onion/{i}", "title": f"page {i}",
            "fetched_at": f"2026-11-{1 + i % 3:02d}T00:00:00Z", "status": 200 if i % 4 else 404,
            "lang": ["en", "de", ""][i % 3], **({"size": i % 5} if i % 6 else {}),
            **({"entities": {"btc": [f"1B{i % 3}", f"1C{i % 2}"]}} if i % 2 else {}),
        }) for i in range(41)]
        assert await backend.write(docs) == []
        await backend.refresh()
        order = tuple(SortField(f, o) for f, o in sort)  # type: ignore[arg-type]
        sources, ids = sources_of(docs, "page")
        want = evaluate(Search("page", sort=order, size=100), sources, ids)
        expected = [h["_id"] for h in want["hits"]["hits"]]
        seen: list[str] = []
        after = None
        for _ in range(20):
            page = await backend.search(Search("page", sort=order, size=4, search_after=after))
            assert page["hits"]["total"]["value"] == len(docs)
            hits = page["hits"]["hits"]
            if not hits:
                break
            seen += [h["_id"] for h in hits]
            after = tuple(hits[-1]["sort"])
        assert seen == expected

    async def test_size_zero_counts_only(self, loaded: tuple[Backend, list[Document]]) -> None:
        backend, docs = loaded
        result = await backend.search(from_dsl("page", {"size": 0}))
        assert result["hits"]["hits"] == []
        assert result["hits"]["total"] == {"value": sum(d.KIND == "page" for d in docs),
                                           "relation": "eq"}

    async def test_relevance_page_holds_the_best_matches(
            self, loaded: tuple[Backend, list[Document]]) -> None:
        backend, _ = loaded
        result = await backend.search(from_dsl("page", {"query": {"match": {"text": "tea"}},
                                                         "size": 2}))
        assert result["hits"]["total"]["value"] == 5
        scores = [h["_score"] for h in result["hits"]["hits"]]
        assert len(scores) == 2 and scores == sorted(scores, reverse=True)

    async def test_bad_queries_name_the_field(self, loaded: tuple[Backend, list[Document]]) -> None:
        backend, _ = loaded
        for search, word in [
            (Search("page", sort=(SortField("title"),)), "title"),
            (Search("page", search_after=(1, "x")), "search_after"),
            (Search("nothing"), "nothing"),
        ]:
            with pytest.raises(QueryError, match=word):
                await backend.search(search)

    async def test_empty_backend_answers(self, backend: Backend) -> None:
        body = {"aggs": {"r": {"terms": {"field": "rule"}}}}
        result = await backend.search(from_dsl("alert", body))
        assert result["hits"]["total"]["value"] == 0
        assert result["aggregations"] == {"r": {"buckets": []}}
        assert await backend.count("alert") == 0
