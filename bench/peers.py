"""Peer ranking: aggregations in the backend against reading every observation, both backends.

Builds N synthetic observations (``--observations``, default 10,000,000) over P peers
(``--peers``, default 1,000,000; loopback addresses) in S flagged swarms plus unflagged ones,
writes them to the embedded index and to Elasticsearch, then times ``heroes peers list``'s
ranking (:func:`triage.ranking.rank`: one terms bucket per peer with its metrics, computed
by the backend, partition by partition) and, in the same run, the same ranking computed by
reading every observation of the flagged swarms page by page and folding them in Python.
It prints the best of ``--repeat`` runs' seconds and the peak resident memory of this
process over its starting point for each (Elasticsearch's own memory is its JVM heap,
``--heap``), the ratio, and whether both rankings agree. The defaults are the target
size; on a small machine give smaller ones:

    .venv/bin/python -m bench.peers [--observations 10000000] [--peers 1000000]
                                    [--backends tantivy,elasticsearch] [--repeat 2]
                                    [--fill bulk|write] [--es-url URL]

Filling is :mod:`bench.common.peers_fill`: the documents the ingest path would store
(validated, marked by the drain's matching stage, converted by the backend's own code),
written in bulk; ``--fill write`` writes them through ``Backend.write`` instead. A progress
line every million documents says where the fill's time goes.

Without ``--es-url`` it starts Elasticsearch's test node from ``.cache/elasticsearch``
(``make es-node``) on 127.0.0.1 for the run. Run it inside the loopback-only namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psutil

from bench.common.elasticsearch import es_node
from bench.common.peers_fill import (
    T0,
    BackendWrite,
    ElasticsearchBulk,
    FillTimes,
    Loader,
    Sizes,
    TantivyBulk,
    fill,
    hashes,
)
from config.sections.index import ElasticsearchSettings, IndexSettings
from config.sections.triage import TriageSettings
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy import TantivyBackend
from query.model import Search, SortField
from triage.ranking import RankedPeer, Scope, rank, scope_query
from triage.scoring import PeerFigures, rank_key, score
from triage.swarms import SwarmCatalog, every_source

NOW = T0 + timedelta(days=31)
SEVERITY = {"a": 3, "b": 2}
T = TypeVar("T")


class PeakRss:
    """Peak resident memory of this process over its level at start, and the peak of the
    index server's process (``server_pid``) if there is one, sampled every 20 ms."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.proc = psutil.Process()
        self.start = self.peak = self.proc.memory_info().rss
        self.server = psutil.Process(server_pid) if server_pid else None
        self.server_peak = self._server_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _server_rss(self) -> int:
        if self.server is None:
            return 0
        # The node's JVM and the processes it started (none by default).
        procs = [self.server, *self.server.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.server_peak = max(self.server_peak, self._server_rss())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return (self.peak - self.start) / 2**20

    @property
    def server_mib(self) -> float:
        return self.server_peak / 2**20


@dataclass
class Timing:
    seconds: float = math.inf
    mib: float = 0.0  # peak of this process over its level at start
    server_mib: float = 0.0  # peak resident memory of the index server (0: in-process)


async def timed(fn: Callable[[], Awaitable[T]], repeat: int, server_pid: int | None = None
                ) -> tuple[T, Timing]:
    """The result, the best of ``repeat`` runs' seconds (the machine may be shared) and the
    largest peak memory among them."""
    t = Timing()
    for _ in range(repeat):
        with PeakRss(server_pid) as mem:
            started = time.perf_counter()
            result = await fn()
            t.seconds = min(t.seconds, time.perf_counter() - started)
        t.mib, t.server_mib = max(t.mib, mem.mib), max(t.server_mib, mem.server_mib)
    return result, t


async def by_reading(backend: Backend, catalog: SwarmCatalog, settings: TriageSettings
                     ) -> list[RankedPeer]:
    """The same ranking from every observation, read page by page and folded here."""
    figures: dict[str, list[Any]] = {}
    severity = {ih: s.severity for ih, s in catalog.swarms.items()}
    search = Search("observation", query=scope_query(catalog, Scope()), size=10_000,
                    sort=(SortField("first_seen", "asc"),))
    async for o in every_source(backend, search):
        f = figures.get(o["ip"])
        first = int(datetime.fromisoformat(o["first_seen"]).timestamp() * 1000)
        last = int(datetime.fromisoformat(o["last_seen"]).timestamp() * 1000)
        if f is None:
            figures[o["ip"]] = f = [set(), 0, 0, first, last, 0.0, 0]
        f[0].add(o["infohash"])
        f[1] = max(f[1], severity.get(o["infohash"], 0))
        f[2] = max(f[2], o.get("level", 0))
        f[3], f[4] = min(f[3], first), max(f[4], last)
        f[5] = max(f[5], o.get("have_fraction") or 0.0)
        f[6] += 1
    peers = []
    for ip, (swarms, sev, level, first, last, complete, count) in figures.items():
        fig = PeerFigures(ip, len(swarms), sev, level, first, last, complete, count)
        peers.append(RankedPeer(ip, fig, score(fig, settings, NOW)))
    peers.sort(key=lambda p: rank_key(p.ip, p.score))
    return peers


def agree(a: list[RankedPeer], b: list[RankedPeer]) -> str:
    if len(a) != len(b):
        return f"no: {len(a)} peers against {len(b)}"
    for x, y in zip(a, b, strict=True):
        if x.ip != y.ip or not math.isclose(x.score.total, y.score.total, abs_tol=1e-6):
            return f"no: {x.ip} {x.score.total} against {y.ip} {y.score.total}"
    return "yes"


async def stock(name: str, backend: Backend, args: argparse.Namespace, workdir: Path,
                path: Path | None = None) -> None:
    """Open ``backend`` for writing with the flagged list and every observation in it: filled
    now (in bulk, or through ``Backend.write`` with ``--fill write``), or already there
    (``--index-dir``). ``path``: the embedded index's directory, filled before it opens."""
    sizes = Sizes(args.observations, args.peers, args.swarms)
    times: FillTimes | None = None
    if path is not None and args.fill == "bulk" and not (path / "observation").exists():
        bulk = TantivyBulk(path, heap_mb=args.writer_heap_mb)
        times = await fill(bulk, sizes, workdir)
        del bulk  # its writer lock goes with it
    await backend.open(writer=True)
    await backend.write(hashes(args.swarms))  # an upsert when the index is kept
    await backend.refresh()
    stored = await backend.count("observation")
    if times is None and stored and path is not None:
        print(f"\n{name}: {stored:,} observations already in {path}", flush=True)
        return
    if times is None:
        if args.fill == "bulk" and isinstance(backend, ElasticsearchBackend):
            loader: Loader = ElasticsearchBulk(backend, in_flight=args.in_flight)
        else:
            loader = BackendWrite(backend)
        times = await fill(loader, sizes, workdir)
    stored = await backend.count("observation")
    print(f"\n{name}: {stored:,} observations stored ({args.fill}) {times.summary()}",
          flush=True)


async def measure(name: str, backend: Backend, args: argparse.Namespace, workdir: Path,
                  server_pid: int | None = None, path: Path | None = None) -> None:
    try:
        await stock(name, backend, args, workdir, path)
        settings = TriageSettings(severity=SEVERITY, max_peers=max(args.peers * 2, 1))
        catalog = await SwarmCatalog.load(backend, settings)
        rows: list[tuple[str, Timing]] = []
        agg, t = await timed(lambda: rank(backend, catalog, settings, Scope(), NOW, hints=False),
                             args.repeat, server_pid)
        rows.append(("ranking, aggregated in backend", t))
        if args.hints:
            _, t = await timed(lambda: rank(backend, catalog, settings, Scope(), NOW),
                               args.repeat, server_pid)
            rows.append(("  with continuity hints", t))
        read, t = await timed(lambda: by_reading(backend, catalog, settings), args.repeat,
                              server_pid)
        rows.append(("ranking, reading every observation", t))
        print(f"{'':<36}{'seconds':>9}{'peak MiB':>10}"
              + (f"{'server MiB':>12}" if server_pid else ""))
        for label, t in rows:
            print(f"{label:<36}{t.seconds:>9.1f}{t.mib:>10.0f}"
                  + (f"{t.server_mib:>12.0f}" if server_pid else ""))
        ratio = rows[-1][1].seconds / rows[0][1].seconds
        print(f"peers ranked {len(agg):,}; reading / aggregating: {ratio:.1f}x time, "
              f"rankings agree: {agree(agg, read)}", flush=True)
    finally:
        await backend.close()


async def run(args: argparse.Namespace, workdir: Path) -> None:
    print(f"{args.observations:,} observations over {args.peers:,} peers, {args.swarms} "
          f"flagged swarms")
    backends = args.backends.split(",")
    if "tantivy" in backends:
        path = Path(args.index_dir) if args.index_dir else workdir / "index"
        backend = TantivyBackend(path, IndexSettings(writer_heap_mb=args.writer_heap_mb))
        await measure("tantivy", backend, args, workdir, path=path)
    if "elasticsearch" in backends:
        with es_node(args.es_url, args.heap, prefix="heroes-es-bench-peers-",
                     deadline_s=args.es_start_timeout) as node:
            es = ElasticsearchBackend(ElasticsearchSettings(
                hosts=[node.url], index_prefix="bench-peers", request_timeout_s=600,
                bulk_chunk_size=2000))
            await measure("elasticsearch", es, args, workdir, node.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=10_000_000,
                        help="observations to build (10000000)")
    parser.add_argument("--peers", type=int, default=1_000_000, help="distinct peers (1000000)")
    parser.add_argument("--swarms", type=int, default=300, help="flagged swarms (300)")
    parser.add_argument("--backends", default="tantivy,elasticsearch",
                        help="which backends, comma-separated (tantivy,elasticsearch)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each ranking; the best time is shown (2)")
    parser.add_argument("--es-url", help="an Elasticsearch 9 node instead of the test node")
    parser.add_argument("--heap", default="1g", help="heap of the test node (1g)")
    parser.add_argument("--es-start-timeout", type=float, default=120.0,
                        help="seconds the test node may take to start (120)")
    parser.add_argument("--index-dir", help="keep the embedded index here, and rank the one "
                        "already there (same sizes) instead of building it again")
    parser.add_argument("--fill", choices=("bulk", "write"), default="bulk",
                        help="bulk: the backend's documents written in bulk (see "
                        "bench/common/peers_fill.py); write: through Backend.write (bulk)")
    parser.add_argument("--writer-heap-mb", type=int, default=2048,
                        help="tantivy writer heap while filling (2048)")
    parser.add_argument("--in-flight", type=int, default=3,
                        help="Elasticsearch bulk requests in flight while filling (3)")
    parser.add_argument("--no-hints", dest="hints", action="store_false",
                        help="leave out the ranking with continuity hints")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, embedded backend only (seconds)")
    args = parser.parse_args()
    if args.smoke:
        args.observations, args.peers, args.swarms, args.backends = 5_000, 500, 10, "tantivy"
    problem = Sizes(args.observations, args.peers, args.swarms).check()
    if problem:
        parser.error(problem)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
