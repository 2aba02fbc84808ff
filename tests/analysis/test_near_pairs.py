"""Near pairs grow with the pages, not with their square: each page is paired with its
closest page on each other member, and a template posted many times still links its
posters, with the pairs kept as evidence."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from analysis.graph import NothingCommon
from analysis.pairs import closest_per_member
from analysis.runner import Analyser
from analysis.state import AnalysisDB
from config.sections.analysis import AnalysisSettings
from query.model import Search

START = datetime(2026, 3, 1, tzinfo=UTC)
WORDS = ("order shipping stock price quality review escrow support delivery tracking package "
         "customer account wallet refund policy item product offer discount").split()


def test_the_closest_record_of_each_other_member_is_kept() -> None:
    holders = {"a1": ("A", 5), "a2": ("A", 3), "b1": ("B", 9), "b2": ("B", 1),
               "own": ("ME", 1)}
    found = [("a1", 0.9), ("a2", 0.9), ("b1", 0.95), ("b2", 0.85), ("own", 1.0),
             ("gone", 1.0)]
    # Equal scores: the earliest record (a2 was seen at 3, a1 at 5).
    assert closest_per_member(found, holders.get, "ME", higher=True) == [
        ("a2", 0.9), ("b1", 0.95)]
    distances = [("a1", 4), ("a2", 9), ("b1", 30), ("b2", 12)]
    assert closest_per_member(distances, holders.get, "ME", higher=False) == [
        ("a1", 4), ("b2", 12)]


class Reader:
    def __init__(self, hits: list[dict[str, Any]]):
        self.hits = hits

    async def search(self, search: Search) -> dict[str, Any]:
        if search.kind != "page":
            return {"hits": {"total": {"value": 0}, "hits": []}}
        start = 0 if search.search_after is None else int(search.search_after[0]) + 1
        return {"hits": {"total": {"value": len(self.hits)},
                         "hits": self.hits[start:start + search.size]}}


def _template_posts(hosts: int, per_host: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    template = [rng.choice(WORDS) for _ in range(120)]
    hits = []
    for k in range(hosts * per_host):
        words = list(template)
        words[k % 120] = f"n{k}"  # each post has a word of its own
        host = f"poster{k % hosts}.onion"
        hits.append({"_id": f"p{k:04d}", "sort": [k], "_source": {
            "kind": "page", "url": f"http://{host}/{k}", "host": host,
            "fetched_at": (START + timedelta(minutes=k)).isoformat(), "lang": "en",
            "text": " ".join(words), "entities": {}, "pivots": {}}})
    return hits


async def test_a_template_posted_many_times_links_its_posters_with_linear_pairs(
        tmp_path: Path) -> None:
    hosts, per_host = 4, 15
    db = AnalysisDB(tmp_path / "analysis.sqlite")
    analyser = Analyser(AnalysisSettings(batch_size=20), db, lambda docs: 0,
                        common=NothingCommon())
    await analyser.run_once(Reader(_template_posts(hosts, per_host)))  # type: ignore[arg-type]
    pages = hosts * per_host
    pairs = db.conn.execute("SELECT count(*) FROM near WHERE type = 'text_near'").fetchone()[0]
    # Every page pairs with at most one page of each member seen before it; all pairs
    # would be (pages choose 2) minus the same host's.
    assert 0 < pairs <= pages * (hosts - 1)
    assert pairs < (pages * (pages - 1) // 2) * (hosts - 1) // hosts
    clusters = {r[0] for r in db.conn.execute("SELECT cluster FROM members")}
    assert len(clusters) == 1 and None not in clusters
    db.close()
