"""Incremental clustering: pages/s of the analyse pass and its resident memory.

Feeds ``--pages`` synthetic page sources over ``--hosts`` services to
:class:`analysis.runner.Analyser` in batches of ``--batch`` (every page: generic market text
of about 150 words; one service in ten in an operator group of five sharing a wallet, an
e-mail or an analytics id, half of the group's pages a templated advert, near-duplicates of
each other), from a reader that makes them in ``fetched_at`` order as they are asked for
(the index's own read time is the index benchmark's). Prints pages/s, the clusters found and
the RSS after.
Baseline, in the same run: the naive way, each new page's text compared with every page
before it (exact Jaccard of the shingles), timed on ``--baseline-pages`` pages and
extrapolated (quadratic) to ``--pages``; the output says which figures are measured and which
extrapolated. ``--smoke`` runs at tiny sizes (seconds).

    .venv/bin/python -m bench.analysis_clusters [--pages 1000000] [--hosts 20000]
                                                [--batch 500] [--baseline-pages 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from analysis.graph import NothingCommon
from analysis.neardup import shingles
from analysis.runner import Analyser
from analysis.state import AnalysisDB
from bench.common.memory import rss_mb
from config.sections.analysis import AnalysisSettings
from query.model import Search

START = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = ("shop market vendor listing order shipping stock price quality review escrow "
         "support delivery tracking package customer account wallet balance refund policy "
         "item product offer discount bundle express worldwide secure fast trusted rating "
         "feedback message contact update news service payment confirm dispatch").split()


def _text(rng: random.Random, template: int | None) -> str:
    if template is not None:
        trng = random.Random(template)
        words = [trng.choice(WORDS) for _ in range(150)]
        words[rng.randrange(150)] = str(rng.randrange(100))  # one word of its own
        return " ".join(words)
    return " ".join(rng.choice(WORDS) for _ in range(150))


def page_hit(k: int, hosts: int, seed: int = 7) -> dict[str, Any]:
    """The ``k``-th synthetic page, as a search hit (made on demand: the same every time)."""
    rng = random.Random(seed * 1_000_003 + k)
    h = rng.randrange(hosts)
    group = h // 50 if h % 10 == 0 else None
    entities: dict[str, list[str]] = {}
    pivots: dict[str, list[str]] = {}
    if group is not None:
        kind = group % 3
        if kind == 0:
            entities["btc"] = [f"bc1qbench{group:08d}"]
        elif kind == 1:
            entities["emails"] = [f"group{group}@example.org"]
        else:
            pivots["analytics"] = [f"G-BENCH{group:06d}"]
    template = group if group is not None and rng.random() < 0.5 else None
    return {"_id": f"p{k:09d}", "_source": {
        "kind": "page", "url": f"http://bench{h:06d}.onion/{k}", "host": f"bench{h:06d}.onion",
        "fetched_at": (START + timedelta(seconds=k)).isoformat(), "lang": "en",
        "text": _text(rng, template), "entities": entities, "pivots": pivots},
        "sort": [k * 1000, f"p{k:09d}"]}


class PageReader:
    """Serves the synthetic pages in order, in the shape the analyser asks for (no services),
    making each batch when it is asked for: the benchmark holds no page of its own."""

    def __init__(self, n_pages: int, hosts: int):
        self.n_pages, self.hosts = n_pages, hosts

    async def search(self, search: Search) -> dict[str, Any]:
        if search.kind != "page":
            return {"hits": {"total": {"value": 0}, "hits": []}}
        start = 0 if search.search_after is None else int(search.search_after[0]) // 1000 + 1
        chunk = [page_hit(k, self.hosts)
                 for k in range(start, min(start + search.size, self.n_pages))]
        return {"hits": {"total": {"value": self.n_pages}, "hits": chunk}}


def naive_seconds(hits: list[dict[str, Any]], words: int) -> float:
    seen: list[set[bytes]] = []
    began = time.perf_counter()
    for hit in hits:
        grams = shingles(hit["_source"]["text"], words)
        for other in seen:
            _ = len(grams & other) / max(len(grams | other), 1)
        seen.append(grams)
    return time.perf_counter() - began


async def run(n_pages: int, hosts: int, batch: int, baseline_pages: int, root: Path) -> None:
    settings = AnalysisSettings(batch_size=batch)
    db = AnalysisDB(root / "analysis.sqlite")
    written = 0

    def append(docs: Any) -> int:
        nonlocal written
        written += len(list(docs))
        return 0

    try:
        analyser = Analyser(settings, db, append, common=NothingCommon())
        before = rss_mb()
        began = time.perf_counter()
        counters = await analyser.run_once(PageReader(n_pages, hosts))  # type: ignore[arg-type]
        took = time.perf_counter() - began
        live = db.conn.execute(
            "SELECT count(DISTINCT cluster) FROM members WHERE cluster IS NOT NULL").fetchone()[0]
    finally:
        db.close()
    rate = counters.pages / took
    print(f"incremental: {counters.pages:,} pages in {took:,.1f} s = {rate:,.0f} pages/s "
          f"(batches of {batch}), {live:,} clusters, {written:,} cluster documents written, "
          f"RSS {rss_mb():,.0f} MB ({rss_mb() - before:+,.0f} MB)")
    sample = [page_hit(k, hosts) for k in range(min(baseline_pages, n_pages))]
    naive = naive_seconds(sample, settings.shingle_words)
    scale = (n_pages / max(len(sample), 1)) ** 2
    print(f"naive (every page against every earlier one): {naive:,.2f} s measured on "
          f"{len(sample):,} pages, extrapolated {naive * scale:,.0f} s on {n_pages:,} "
          f"({naive * scale / max(took, 1e-9):,.0f}x the incremental pass)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline-pages", type=int, default=3_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: seconds.")
    args = parser.parse_args()
    if args.smoke:
        args.pages, args.hosts, args.baseline_pages = 2_000, 200, 300
    root = Path(tempfile.mkdtemp(prefix="bench-clusters-", dir=args.dir))
    try:
        asyncio.run(run(args.pages, args.hosts, args.batch, args.baseline_pages, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
