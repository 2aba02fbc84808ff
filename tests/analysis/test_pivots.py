"""Pivot fields of pages and services: the model, ``pivot.<name>`` queries on both backends and
the reference evaluator, and common values with suppression lists."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analysis.common import CommonValues, SuppressionError, load_suppression
from config import Settings
from config.sections.analysis import AnalysisSettings
from config.sections.index import IndexSettings
from documents import Page, Service
from documents.pivots import PIVOT_FIELDS, PIVOT_LIMIT, PIVOT_NAMES, Pivots
from errors import QueryError
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy import TantivyBackend
from query.model import Search
from query.querystring import parse_query_string
from query.reference import evaluate
from tests import es_node as node_fixtures
from tests.index.test_elasticsearch_contract import _empty

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
FAVICON = "-1234567890"


def _service(i: int, **pivots: list[str]) -> Service:
    return Service(host=f"svc{i:02d}.onion", first_seen=T0, last_seen=T0 + timedelta(hours=i),
                   up=True, pivots=Pivots(**pivots))


def _page(i: int, **pivots: list[str]) -> Page:
    return Page(url=f"http://svc{i:02d}.onion/p", fetched_at=T0 + timedelta(minutes=i),
                title=f"shop {i}", text="generic market listing", pivots=Pivots(**pivots))


def corpus() -> list[Service | Page]:
    """25 services: 10 share a default favicon (common), 2 share an analytics id and 2 a
    camera serial (rare, strong), every one has its own DOM hash."""
    docs: list[Service | Page] = []
    for i in range(25):
        pivots: dict[str, list[str]] = {"dom": [f"{i:016x}"]}
        if i < 10:
            pivots["favicon"] = [FAVICON]
        if i in (3, 17):
            pivots["analytics"] = ["UA-424242-1", "matomo:stats.example.onion/7"]
        if i in (5, 6):
            pivots["exif_serial"] = ["SN-0042"]
        docs.append(_service(i, **pivots))
        docs.append(_page(i, **pivots))
    return docs


# -- the model -----------------------------------------------------------------------------

def test_every_pivot_is_a_keyword_field_of_pages_and_services() -> None:
    for cls in (Page, Service):
        for name in PIVOT_NAMES:
            assert cls.FIELDS[f"pivots.{name}"] is PIVOT_FIELDS[f"pivots.{name}"]
    assert "pivots.errors" not in Page.FIELDS
    assert {p.strength for p in PIVOT_NAMES.values()} == {"strong", "weak"}


def test_service_merge_unions_pivots_capped() -> None:
    old = _service(1, favicon=["1"], analytics=[f"UA-{n}-1" for n in range(PIVOT_LIMIT)])
    new = _service(1, favicon=["2"], analytics=["UA-new-1"], errors=["favicon: x: bad"])
    merged = new.merged_with(old)
    assert merged.pivots.favicon == ["2", "1"]
    assert len(merged.pivots.analytics) == PIVOT_LIMIT
    assert merged.pivots.analytics[0] == "UA-new-1"
    assert merged.pivots.errors == ["favicon: x: bad"]


# -- queries -------------------------------------------------------------------------------

def test_pivot_query_names_the_field() -> None:
    q = parse_query_string('pivot.analytics:"matomo:stats.example.onion/7"', "service")
    assert q.field == "pivots.analytics" and q.value == "matomo:stats.example.onion/7"


@pytest.mark.parametrize("text, kind, needle", [
    ("pivot.favicons:1", "page", "unknown pivot 'favicons'"),
    ("pivot.:1", "service", "unknown pivot ''"),
    ("pivot.dom:x", "torrent", "torrent documents carry no pivots"),
])
def test_an_unknown_pivot_is_a_clear_error(text: str, kind: str, needle: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_query_string(text, kind)
    assert needle in str(err.value)
    if "unknown" in needle:
        assert ", ".join(PIVOT_NAMES) in str(err.value)


QUERIES = {
    f"pivot.favicon:{FAVICON}": set(range(10)),
    'pivot.analytics:"UA-424242-1"': {3, 17},
    'pivot.analytics:"matomo:stats.example.onion/7"': {3, 17},
    "pivot.exif_serial:SN-0042 AND pivot.favicon:*": {5, 6},
    "pivot.gps:*": set(),
}


async def _hosts(backend: Backend, kind: str, text: str) -> set[int]:
    result = await backend.search(Search(kind, parse_query_string(text, kind), size=100))
    return {int(h["_source"]["host"][3:5]) for h in result["hits"]["hits"]}


async def _check_queries(backend: Backend) -> None:
    docs = corpus()
    assert await backend.write(docs) == []
    await backend.refresh()
    for kind in ("page", "service"):
        sources = [d.source() for d in docs if d.KIND == kind]
        for text, expected in QUERIES.items():
            assert await _hosts(backend, kind, text) == expected, (kind, text)
            hits = evaluate(Search(kind, parse_query_string(text, kind), size=100), sources)
            assert {int(h["_source"]["host"][3:5]) for h in hits["hits"]["hits"]} == expected


@pytest.fixture
async def tantivy(tmp_path: Path) -> AsyncIterator[Backend]:
    backend = TantivyBackend(tmp_path / "index", IndexSettings(writer_heap_mb=32,
                                                               reader_reload_s=0.2))
    await backend.open(writer=True)
    try:
        yield backend
    finally:
        await backend.close()


async def test_pivot_queries_on_the_embedded_backend(tantivy: Backend) -> None:
    await _check_queries(tantivy)


@pytest.mark.elasticsearch
async def test_pivot_queries_on_elasticsearch(es_settings: Callable[..., Settings]) -> None:
    backend = ElasticsearchBackend(es_settings(prefix="pivots").elasticsearch)
    await backend.open(writer=True)
    try:
        await _empty(backend)
        await _check_queries(backend)
        common = await CommonValues.load(AnalysisSettings(common_fraction=0.2), backend)
        assert common.total == 25
        assert common.is_common("favicon", FAVICON)
        assert not common.is_common("analytics", "UA-424242-1")
    finally:
        await backend.close()


# -- common values -------------------------------------------------------------------------

async def test_common_values_from_the_index(tantivy: Backend) -> None:
    assert await tantivy.write(corpus()) == []
    await tantivy.refresh()
    common = await CommonValues.load(AnalysisSettings(common_fraction=0.2), tantivy)
    assert common.total == 25
    assert common.is_common("favicon", FAVICON)
    assert "on 10 of 25 services (40%)" in common.why("favicon", FAVICON)
    assert not common.is_common("analytics", "UA-424242-1")
    assert not common.is_common("favicon", "999")
    # The same value under another pivot is another value.
    assert not common.is_common("dom", FAVICON)
    higher = await CommonValues.load(AnalysisSettings(common_fraction=0.5), tantivy)
    assert not higher.is_common("favicon", FAVICON)


async def test_few_services_make_nothing_common_by_share(tantivy: Backend) -> None:
    assert await tantivy.write([_service(1, favicon=["7"]), _service(2, favicon=["7"])]) == []
    await tantivy.refresh()
    common = await CommonValues.load(AnalysisSettings(), tantivy)
    assert not common.is_common("favicon", "7")
    few = await CommonValues.load(AnalysisSettings(common_min_services=2), tantivy)
    assert few.is_common("favicon", "7")


def test_suppression_text_and_misp_warning_lists(tmp_path: Path) -> None:
    text = tmp_path / "unit.txt"
    text.write_text("# values the unit never links\n-1234567890\n"
                    "analytics:UA-999-1   # a stock theme's id\n\n")
    misp = tmp_path / "misp.json"
    misp.write_text(json.dumps({"name": "Stock templates", "type": "string",
                                "list": ["ABCDEF0123456789"]}))
    part = tmp_path / "part.json"
    part.write_text(json.dumps({"name": "Demo certs", "type": "substring",
                                "list": ["matomo:cdn."]}))
    settings = AnalysisSettings(suppress_files=[text, misp, part])
    common = CommonValues(settings, {}, 3)
    assert common.why("favicon", FAVICON) == f"on the suppression list {text}:2"
    assert common.is_common("analytics", "ua-999-1")
    assert not common.is_common("favicon", "UA-999-1")  # scoped to analytics
    assert "Stock templates" in common.why("dom", "abcdef0123456789")
    assert "'matomo:cdn.'" in common.why("analytics", "matomo:cdn.example.onion/4")
    assert not common.is_common("analytics", "UA-424242-1")


@pytest.mark.parametrize("name, body, needle", [
    ("bad.json", '{"list": ["a",\n  }', "bad.json:2: not valid JSON"),
    ("regex.json", '{"type": "regex", "list": ["a.*"]}', "type 'regex' is not supported"),
    ("nolist.json", '{"name": "x"}', 'needs a "list" array'),
    ("empty.json", '{"list": ["ok", ""]}', "list[1]: '' is not a value"),
    ("scoped.txt", "ok\nfavicon:\n", "scoped.txt:2: no value after 'favicon:'"),
])
def test_a_bad_suppression_file_names_file_and_line(tmp_path: Path, name: str, body: str,
                                                    needle: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(SuppressionError) as err:
        load_suppression([path])
    assert needle in str(err.value)


def test_a_missing_suppression_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SuppressionError, match=r"nowhere\.txt"):
        load_suppression([tmp_path / "nowhere.txt"])
