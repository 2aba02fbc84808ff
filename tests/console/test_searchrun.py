"""Console searches: the aggregations are cached per (search, index generation) and are the
ones a fresh computation gives; paging and a new commit behave."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.sections.index import IndexSettings
from documents import Page
from documents.page import Entities
from heroes.console import searchreq, searchrun, views
from heroes.console.searchrun import AggregationCache
from index.backends.tantivy import TantivyBackend
from query.model import Search

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def page(i: int) -> Page:
    return Page(url=f"http://market{i % 3}.onion/p/{i}", title=f"listing {i}",
                text="tea market" if i % 2 else "tea forum",
                fetched_at=f"2026-11-{1 + i % 20:02d}T12:00:00Z",
                entities=Entities(emails=[f"user{i}@example.org"] if i % 4 == 0 else []))


class Counting:
    """A backend wrapper that counts the searches it passes on."""

    def __init__(self, backend: TantivyBackend):
        self.backend = backend
        self.searches: list[Search] = []

    async def search(self, search: Search) -> dict[str, Any]:
        self.searches.append(search)
        return await self.backend.search(search)

    def generation(self, kind: str) -> object | None:
        return self.backend.generation(kind)


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[TantivyBackend]:
    b = TantivyBackend(tmp_path / "index", IndexSettings())
    await b.open(writer=True)
    await b.write([page(i) for i in range(40)])
    try:
        yield b
    finally:
        await b.close()


def totals(counts: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {e: r["hits"]["total"]["value"] for e, r in counts.items()}


def _visible(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "_req"}


@pytest.mark.asyncio(loop_scope="session")
async def test_the_next_page_reuses_the_aggregations(backend: TantivyBackend) -> None:
    counting = Counting(backend)
    cache = AggregationCache()
    first = searchreq.parse_request({"q": "tea", "sort": "newest", "size": "5"}, NOW)
    result, counts = await searchrun.run(counting, first, NOW, cache)  # type: ignore[arg-type]
    asked = len(counting.searches)
    assert asked > 1 and cache.misses == 1
    cursor = searchreq.encode_after(result["hits"]["hits"][-1]["sort"])
    second = searchreq.parse_request(
        {"q": "tea", "sort": "newest", "size": "5", "after": cursor}, NOW)
    again, again_counts = await searchrun.run(counting, second, NOW, cache)  # type: ignore[arg-type]
    assert len(counting.searches) == asked + 1 and cache.hits == 1  # the hits alone
    assert again["aggregations"] == result["aggregations"]
    assert again_counts == counts
    ids = {h["_id"] for h in result["hits"]["hits"]}
    assert ids.isdisjoint(h["_id"] for h in again["hits"]["hits"])
    # The cached page equals one computed from scratch.
    fresh, fresh_counts = await searchrun.run(
        counting, second, NOW, AggregationCache())  # type: ignore[arg-type]
    assert fresh["aggregations"] == again["aggregations"]
    assert totals(fresh_counts) == totals(again_counts)
    assert fresh["hits"] == again["hits"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_commit_changes_the_generation_and_the_counts(backend: TantivyBackend) -> None:
    cache = AggregationCache()
    req = searchreq.parse_request({"q": "forum"}, NOW)
    before = await views.search(backend, req, NOW)
    generation = backend.generation("page")
    assert generation is not None
    await backend.write([page(100), page(102)])  # two more forum pages, one with an email
    assert backend.generation("page") != generation
    after, counts = await searchrun.run(backend, req, NOW, cache)
    assert after["hits"]["total"]["value"] == before["total"] + 2
    facet = {f["key"]: f["doc_count"] for f in before["entity_facet"]}
    assert counts["emails"]["hits"]["total"]["value"] == facet.get("emails", 0) + 1
    assert _visible(await views.search(backend, req, NOW))["total"] == before["total"] + 2


@pytest.mark.asyncio(loop_scope="session")
async def test_no_generation_no_cache(backend: TantivyBackend) -> None:
    counting = Counting(backend)
    counting.generation = lambda kind: None  # type: ignore[method-assign]
    cache = AggregationCache()
    req = searchreq.parse_request({"q": "tea"}, NOW)
    for _ in range(2):
        await searchrun.run(counting, req, NOW, cache)  # type: ignore[arg-type]
    assert cache.hits == 0 and cache.misses == 0
    assert len(counting.searches) == 2 * (1 + len(searchreq.entity_count_searches(req, NOW)))
