"""Elasticsearch against the embedded index, side by side in one run on the same pages.

Uses the corpus, query parameters and query types of ``bench/index.py`` (term, phrase,
filter+term, range+terms-agg, sorted-page-2). Both backends are fed the same way, through
the spool and the drain in batches; then, with both backends' files read once into the page
cache (the test node's; a node given by URL keeps its own), each query type runs after a
warm-up on both, and
the script prints ingest docs/s and query p50/p95 per backend with the ratio
(Elasticsearch / embedded) and how often both counted the same hits.

    .venv/bin/python bench/index_es.py [--docs 200000] [--queries 200] [--es-url URL]

Without ``--es-url`` it starts Elasticsearch's test node from ``.cache/elasticsearch``
(``make es-node``) on 127.0.0.1 for the run, with ``--heap``. Run it inside the
loopback-only namespace as ``make bench`` does; nothing is downloaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, this folder would shadow the ``index`` package with bench/index.py.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import itertools
import signal
import tempfile
import time
from typing import Any

from bench.common.elasticsearch import BenchNode, es_node
from bench.common.process import add_gc_option, as_heroes_runs
from bench.index import (
    BATCH,
    QUERY_TYPES,
    WARMUP,
    Corpus,
    Workload,
    build_tantivy,
    percentiles,
    read_corpus,
    run_tantivy,
    warm,
    write_corpus,
)
from config.sections.index import ElasticsearchSettings, IndexSettings
from documents import Page
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy import TantivyBackend
from index.drain import Drainer
from index.spool import Spool


async def build_es(corpus: Path, workdir: Path, settings: ElasticsearchSettings
                   ) -> tuple[ElasticsearchBackend, dict[str, float]]:
    spool = Spool(workdir / "es-spool.sqlite")
    batch: list[Page] = []
    for body in read_corpus(corpus):
        batch.append(Page.model_validate(body))
        if len(batch) == BATCH:
            spool.append(batch)
            batch = []
    spool.append(batch)
    backend = ElasticsearchBackend(settings)
    await backend.open(writer=True)
    started = time.perf_counter()
    await Drainer(spool, backend, batch_size=BATCH).drain_all()
    drained = time.perf_counter() - started
    spool.close()
    return backend, {"drain_s": drained}


async def query(backend: Backend, name: str, params: Any) -> tuple[float, int]:
    started = time.perf_counter()
    total = await run_tantivy(backend, name, params)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    if name == "sorted-page-2":  # only the second page is timed
        elapsed = run_tantivy.elapsed  # type: ignore[attr-defined]
    return elapsed * 1000, total


async def measure(embedded: Backend, es: Backend, workload: Workload, queries: int) -> None:
    print(f"\n{'query (ms)':<18}{'tantivy p50':>12}{'p95':>9}{'es p50':>10}{'p95':>9}"
          f"{'es/tantivy p50':>16}{'p95':>8}{'agree':>10}")
    for name, make in QUERY_TYPES.items():
        params = [make(workload) for _ in range(WARMUP + queries)]
        t_times: list[float] = []
        e_times: list[float] = []
        agree = 0
        for i, p in enumerate(params):
            t_ms, t_total = await query(embedded, name, p)
            e_ms, e_total = await query(es, name, p)
            if i >= WARMUP:
                t_times.append(t_ms)
                e_times.append(e_ms)
                agree += t_total == e_total
        tp50, tp95 = percentiles(t_times)
        ep50, ep95 = percentiles(e_times)
        print(f"{name:<18}{tp50:>12.2f}{tp95:>9.2f}{ep50:>10.2f}{ep95:>9.2f}"
              f"{ep50 / tp50:>15.1f}x{ep95 / tp95:>7.1f}x{agree:>6}/{queries}")


async def run(args: argparse.Namespace, workdir: Path, node: BenchNode) -> None:
    n, url = args.docs, node.url
    print(f"{n} synthetic pages; embedded index in {workdir}, elasticsearch at {url}")
    corpus = Corpus(n)
    pages = workdir / "corpus.jsonl"
    write_corpus(corpus, pages)  # generated once, untimed, read by both builds
    settings = IndexSettings(batch_size=BATCH)
    t_build = await build_tantivy(pages, workdir, settings)
    embedded = TantivyBackend(workdir / "tantivy", settings)
    await embedded.open(writer=False)
    es, e_build = await build_es(pages, workdir, ElasticsearchSettings(
        hosts=[url], index_prefix="bench", request_timeout_s=120, bulk_chunk_size=1000))
    print(f"\n{'ingest (spool -> drain -> backend)':<36}{'seconds':>10}{'docs/s':>10}")
    print(f"{'tantivy':<36}{t_build['drain_s']:>10.1f}{n / t_build['drain_s']:>10.0f}")
    print(f"{'elasticsearch':<36}{e_build['drain_s']:>10.1f}{n / e_build['drain_s']:>10.0f}")
    ratio = t_build["drain_s"] / e_build["drain_s"]
    print(f"ratio of docs/s, elasticsearch / tantivy: {ratio:.2f}x")
    await es.refresh()  # untimed: what the drain wrote, searchable before it is counted
    print(f"documents: tantivy {await embedded.count('page')}, "
          f"elasticsearch {await es.count('page')}")
    # Both engines' files in the page cache, as on a serving machine (bench.index.warm).
    files = [workdir / "tantivy", *([node.data] if node.data is not None else [])]
    warmed, seconds = warm(files)
    print(f"files read once into the page cache: {warmed / 2**30:.1f} GiB in {seconds:.0f}s"
          + ("" if node.data is not None else " (the embedded index only: a given node's files "
             "are not on this machine's paths)"))
    sample = list(itertools.islice(read_corpus(pages), 2_000))
    await measure(embedded, es, Workload(corpus, sample), args.queries)
    await embedded.close()
    await es.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000, help="pages to build (200000)")
    parser.add_argument("--queries", type=int, default=200, help="measured queries per type")
    parser.add_argument("--es-url", help="an Elasticsearch 9 node to use instead of the test node")
    parser.add_argument("--heap", default="1g", help="heap of the test node (1g)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (1000 pages), seconds")
    add_gc_option(parser)
    args = parser.parse_args()
    if args.smoke:
        args.docs, args.queries = 1_000, 25
    as_heroes_runs(args)
    # SIGTERM too must unwind, so that the test node is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with (es_node(args.es_url, args.heap) as node,
          tempfile.TemporaryDirectory(prefix="bench-index-es-") as tmp):
        asyncio.run(run(args, Path(tmp), node))


if __name__ == "__main__":
    main()
