"""Frontier throughput and crawler memory at 10k, 100k and 1M queued URLs: the SQLite and
Redis frontier stores against the in-memory heap of Scrapy requests they replaced.

Each (store, size) runs in a fresh process, so its resident memory is its own: it pushes
N onion URLs (100 per host, 500 per call), then leases and acks 20,000 of them (100 per
call), and reports push/s, lease+ack/s and the process RSS after the push. With a store
the RSS stays flat as N grows; with the heap it grows with N. Redis is Debian's
redis-server started on 127.0.0.1 like the lab's (append-only file, fsync every second).
Run inside the loopback-only namespace::

    bash scripts/loopback-only.sh .venv/bin/python -m bench.frontier [--smoke]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common.memory import rss_mb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (10_000, 100_000, 1_000_000)
SMOKE_SIZES = (1_000, 3_000)
PER_HOST = 100
PUSH_BATCH = 500
LEASE_BATCH = 100
LEASE_TOTAL = 20_000


def onion(i: int) -> str:
    return f"{i:056x}"[-56:].replace("0", "a") + ".onion"


def urls(n: int) -> Any:
    for i in range(n):
        host = onion(i // PER_HOST)
        yield f"http://{host}/forum/viewtopic.php?t={i}&start={i % 7}"


def run_heap(n: int) -> dict[str, Any]:
    """What crawler/frontier.py did before: every pending Request in one heap."""
    from scrapy import Request

    heap: list[tuple[int, int, int, Request]] = []
    tie = itertools.count()
    started = time.perf_counter()
    for seq, url in enumerate(urls(n)):
        request = Request(url, priority=-1, meta={"depth": 1})
        heapq.heappush(heap, (-request.priority, seq, next(tie), request))
    push_s = time.perf_counter() - started
    rss = rss_mb()
    take = min(n, LEASE_TOTAL)
    started = time.perf_counter()
    for _ in range(take):
        heapq.heappop(heap)
    return {"push_per_s": n / push_s, "lease_ack_per_s": take / (time.perf_counter() - started),
            "rss_mb": rss}


def run_store(backend: str, n: int, redis_url: str, directory: Path) -> dict[str, Any]:
    from config.sections.frontier import FrontierSettings
    from crawler.frontier.store import FrontierStore, NewUrl

    options = FrontierSettings(lease_s=600)
    caps = {"host_cap": 10**9, "host_concurrency": 10**6}
    store: FrontierStore
    if backend == "sqlite":
        from crawler.frontier.sqlite_store import SqliteFrontierStore

        store = SqliteFrontierStore(directory / f"f{n}.sqlite", options, **caps)
    else:
        from crawler.frontier.redis_store import RedisFrontierStore

        store = RedisFrontierStore(redis_url, uuid.uuid4().hex[:8], options, **caps)
    started = time.perf_counter()
    batch: list[NewUrl] = []
    for url in urls(n):
        batch.append(NewUrl(url, depth=1, priority=-1, callback="parse"))
        if len(batch) == PUSH_BATCH:
            store.push(batch)
            batch = []
    if batch:
        store.push(batch)
    push_s = time.perf_counter() - started
    rss = rss_mb()
    take = min(n, LEASE_TOTAL)
    done = 0
    started = time.perf_counter()
    while done < take:
        leased = store.lease("bench", min(LEASE_BATCH, take - done))
        if not leased:
            break
        store.ack("bench", [e.key for e in leased])
        done += len(leased)
    lease_s = time.perf_counter() - started
    store.close()
    return {"push_per_s": n / push_s, "lease_ack_per_s": done / lease_s, "rss_mb": rss}


def one(kind: str, n: int, redis_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-frontier-") as tmp:
        if kind == "heap":
            return run_heap(n)
        return run_store(kind, n, redis_url, Path(tmp))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--one", nargs=3, metavar=("KIND", "N", "REDIS_URL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, n, url = args.one
        print(json.dumps(one(kind, int(n), url)))
        return 0

    from heroes.lab import redis as lab_redis

    sizes = SMOKE_SIZES if args.smoke else SIZES
    results: dict[str, dict[int, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-frontier-redis-") as lab:
        info = lab_redis.up(Path(lab))
        try:
            for kind in ("heap", "sqlite", "redis"):
                for n in sizes:
                    proc = subprocess.run(
                        [sys.executable, "-m", "bench.frontier", "--one", kind, str(n),
                         info["url"]], cwd=ROOT, capture_output=True, text=True, check=False)
                    if proc.returncode != 0:
                        print(proc.stderr[-3000:], file=sys.stderr)
                        return 1
                    results.setdefault(kind, {})[n] = json.loads(proc.stdout)
                    r = results[kind][n]
                    print(f"{kind:7s} {n:>9,d} URLs: push {r['push_per_s']:>9,.0f}/s  "
                          f"lease+ack {r['lease_ack_per_s']:>8,.0f}/s  RSS {r['rss_mb']:7.1f} MB",
                          flush=True)
        finally:
            lab_redis.down(Path(lab))
    small, large = sizes[0], sizes[-1]
    for kind in ("heap", "sqlite", "redis"):
        grow = results[kind][large]["rss_mb"] / results[kind][small]["rss_mb"]
        print(f"{kind:7s} RSS at {large:,d} / at {small:,d} URLs: {grow:.2f}x")
    heap_rss = results["heap"][large]["rss_mb"]
    for kind in ("sqlite", "redis"):
        print(f"{kind:7s} RSS vs heap at {large:,d} URLs: "
              f"{results[kind][large]['rss_mb'] / heap_rss:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
