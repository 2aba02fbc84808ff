"""Ingest into a 3-node Elasticsearch cluster: 1 drainer against 2 at once, and what merging costs.

Two installations ("a" and "b") saw the same services, observations and torrents with
different merged fields. In one run, on fresh index prefixes of one cluster (replicas 1):

1. one drainer (its own process) drains a spool holding both sides;
2. two drainers (two processes, one spool each) drain one side each, at the same time;
   docs/s counts from the first start to the last finish, and the ratio is 2 / 1;
3. the merged kinds written through the optimistic-concurrency path (real-time read with
   ``_seq_no``, conditional write or create) against the same documents as plain ``index``
   ops with no read, first as creates and then as updates, in this process;
4. the merged kinds drained (spool -> drain -> cluster) with the drain's merge read serving
   the conditional write (one read) against a drain whose write reads every id again (two
   reads, as before the drain kept the versions), creates and then updates.

Then it prints the resident memory of this process and of each node (all processes of its
group: launcher and server JVM).

    .venv/bin/python -m bench.cluster [--docs 3000] [--nodes 3] [--es-url URL,URL,...]

Without ``--es-url`` it starts ``--nodes`` nodes of Elasticsearch's test distribution from
``.cache/elasticsearch`` (``make es-node``) on 127.0.0.1 as one cluster, with ``--heap``
each, and stops them at the end. ``--smoke`` runs tiny sizes on one node. Run it inside the
loopback-only namespace as ``make bench`` does; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config.sections.index import ElasticsearchSettings
from documents import Document, Observation, Service, Torrent
from documents.service import Check
from heroes.lab.elasticsearch_node import ClusterHandle, start_cluster
from index.backends.elasticsearch import ElasticsearchBackend
from index.drain import Drainer
from index.spool import Spool
from telemetry.native_memory import peak_resident_kb

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
BATCH = 500


def side(name: str, n: int, *, later: bool = False) -> list[Document]:
    """``n`` each of services, observations and torrents as installation ``name`` saw them."""
    a = name == "a"
    when = (T0 if a else T0 - timedelta(days=2)) + (timedelta(hours=5) if later else timedelta())
    docs: list[Document] = []
    for i in range(n):
        host = f"market{i:0>52}.onion"
        docs.append(Service(host=host, first_seen=when, last_seen=when + timedelta(hours=1),
                            title=f"Market {i}", page_count=i % 40,
                            history=[Check(at=when, up=a)]))
        docs.append(Observation(
            infohash=f"{i:040x}", ip=f"127.0.{i // 250 % 250}.{i % 250 + 2}", port=6881,
            sources=["tracker" if a else "dht"], verified_pieces=[0 if a else 1],
            client="Lab client 1.0", first_seen=when, last_seen=when + timedelta(hours=1)))
        docs.append(Torrent(infohash=f"{i:040x}", name=f"Lab set {i}", first_seen=when,
                            found_on=[f"http://{host}/{name}"]))
    return docs


def es_settings(hosts: list[str], prefix: str, replicas: int) -> ElasticsearchSettings:
    return ElasticsearchSettings(hosts=hosts, index_prefix=prefix, replicas=replicas,
                                 request_timeout_s=120, bulk_chunk_size=BATCH)


def _drain(spool_path: str, hosts: list[str], prefix: str, replicas: int
           ) -> tuple[float, float, int]:
    """A drainer process: drains its spool; returns (start, end, documents)."""

    async def run() -> tuple[float, float, int]:
        backend = ElasticsearchBackend(es_settings(hosts, prefix, replicas))
        await backend.open(writer=True)
        spool = Spool(Path(spool_path))
        try:
            started = time.time()
            drained = await Drainer(spool, backend, batch_size=BATCH).drain_all()
            return started, time.time(), drained
        finally:
            spool.close()
            await backend.close()

    return asyncio.run(run())


def spooled(path: Path, docs: list[Document]) -> str:
    spool = Spool(path)
    for start in range(0, len(docs), BATCH):
        spool.append(docs[start:start + BATCH])
    spool.close()
    return str(path)


def drainers(spools: list[str], hosts: list[str], prefix: str, replicas: int) -> float:
    """Docs/s of one drainer process per spool, all at once (first start to last end)."""
    # Opening the indices once beforehand keeps template set-up out of the timing.
    _drain(spooled(Path(spools[0]).with_suffix(".empty"), []), hosts, prefix, replicas)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(spools)) as pool:
        results = pool.starmap(_drain, [(s, hosts, prefix, replicas) for s in spools])
    elapsed = max(r[1] for r in results) - min(r[0] for r in results)
    return sum(r[2] for r in results) / elapsed


async def occ_cost(hosts: list[str], n: int, replicas: int) -> list[tuple[str, float, float]]:
    """(round, docs/s through the merge path, docs/s as plain index ops)."""
    rounds = [("create", side("a", n)), ("update", side("a", n, later=True))]
    occ = ElasticsearchBackend(es_settings(hosts, "bench-occ", replicas))
    plain = ElasticsearchBackend(es_settings(hosts, "bench-plain", replicas))
    await occ.open(writer=True)
    await plain.open(writer=True)
    out = []
    try:
        for name, docs in rounds:
            started = time.perf_counter()
            for start in range(0, len(docs), BATCH):
                await occ.write(docs[start:start + BATCH])
            occ_rate = len(docs) / (time.perf_counter() - started)
            started = time.perf_counter()
            for start in range(0, len(docs), BATCH):
                await plain._write_plain(docs[start:start + BATCH], set())
            out.append((name, occ_rate, len(docs) / (time.perf_counter() - started)))
    finally:
        await occ.close()
        await plain.close()
    return out


class _ReadTwice(ElasticsearchBackend):
    """The drain as before its merge read served the write: es_merge reads every id again."""

    async def read_for_merge(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await self.get(kind, ids)


async def read_cost(hosts: list[str], n: int, replicas: int, workdir: Path
                    ) -> list[tuple[str, float, float]]:
    """(round, docs/s draining with one versioned read, with two reads)."""
    rounds = [("create", side("a", n)), ("update", side("a", n, later=True))]
    backends = {"once": ElasticsearchBackend(es_settings(hosts, "bench-read1", replicas)),
                "twice": _ReadTwice(es_settings(hosts, "bench-read2", replicas))}
    for backend in backends.values():
        await backend.open(writer=True)
    out = []
    try:
        for name, docs in rounds:
            rates = {}
            for label, backend in backends.items():
                spool = Spool(Path(spooled(workdir / f"read-{label}-{name}.sqlite", docs)))
                try:
                    started = time.perf_counter()
                    await Drainer(spool, backend, batch_size=BATCH).drain_all()
                    rates[label] = len(docs) / (time.perf_counter() - started)
                finally:
                    spool.close()
            out.append((name, rates["once"], rates["twice"]))
    finally:
        for backend in backends.values():
            await backend.close()
    return out


def group_rss_mib(pgid: int) -> float:
    """Resident memory of every process in a process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total / 1024


@contextlib.contextmanager
def cluster(url: str | None, nodes: int, heap: str) -> Iterator[tuple[list[str],
                                                                      ClusterHandle | None]]:
    if url:
        yield url.split(","), None
        return
    data = Path(tempfile.mkdtemp(prefix="heroes-es-bench-cluster-"))
    handle: ClusterHandle | None = None
    try:
        started = time.perf_counter()
        handle = start_cluster(ROOT / ".cache" / "elasticsearch", data, nodes, heap=heap)
        print(f"{nodes}-node cluster up and joined in {time.perf_counter() - started:.1f}s")
        yield handle.urls, handle
    finally:
        if handle is not None:
            handle.stop()
        shutil.rmtree(data, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path, hosts: list[str],
        handle: ClusterHandle | None) -> None:
    n = args.docs
    replicas = 1 if len(hosts) > 1 else 0
    a, b = side("a", n), side("b", n)
    total = len(a) + len(b)
    print(f"{n} each of services, observations, torrents per side, 2 sides: {total} documents; "
          f"{len(hosts)} nodes, replicas {replicas}")
    one = drainers([spooled(workdir / "one.sqlite", a + b)], hosts, "bench-one", replicas)
    two = drainers([spooled(workdir / "a.sqlite", a), spooled(workdir / "b.sqlite", b)],
                   hosts, "bench-two", replicas)
    print(f"\n{'ingest (spool -> drain -> cluster)':<36}{'docs/s':>10}")
    print(f"{'1 drainer':<36}{one:>10.0f}")
    print(f"{'2 drainers at once':<36}{two:>10.0f}")
    print(f"ratio of docs/s, 2 drainers / 1: {two / one:.2f}x")
    print(f"\n{'merged kinds, ' + str(3 * n) + ' docs':<24}{'occ docs/s':>12}{'plain docs/s':>14}"
          f"{'plain/occ':>11}")
    for name, occ_rate, plain_rate in asyncio.run(occ_cost(hosts, n, replicas)):
        print(f"{name:<24}{occ_rate:>12.0f}{plain_rate:>14.0f}{plain_rate / occ_rate:>10.2f}x")
    print(f"\n{'drained merged kinds':<24}{'1 read/s':>12}{'2 reads/s':>14}{'1/2':>11}")
    for name, once, twice in asyncio.run(read_cost(hosts, n, replicas, workdir)):
        print(f"{name:<24}{once:>12.0f}{twice:>14.0f}{once / twice:>10.2f}x")
    me = peak_resident_kb() / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\nRSS peak: this process {me:.0f} MiB, largest drainer process {children:.0f} MiB",
          end="")
    if handle is not None:
        for node in handle.nodes:
            if node.process is not None:
                print(f", {node.name} {group_rss_mib(node.process.pid):.0f} MiB", end="")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3000,
                        help="services, observations and torrents each, per side (3000)")
    parser.add_argument("--nodes", type=int, default=3, help="nodes of the test cluster (3)")
    parser.add_argument("--heap", default="512m", help="heap of each test node (512m)")
    parser.add_argument("--es-url", help="comma-separated nodes of a cluster to use instead")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on one node, seconds")
    args = parser.parse_args()
    if args.smoke:
        args.docs, args.nodes = 50, 1
    # SIGTERM too must unwind, so that the test nodes are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with (cluster(args.es_url, args.nodes, args.heap) as (hosts, handle),
          tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp):
        run(args, Path(tmp), hosts, handle)


if __name__ == "__main__":
    main()
