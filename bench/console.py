"""Console search throughput: the HTTP API against the same searches in-process.

Builds (or reuses) an index of N synthetic pages in ``--data-dir``, starts ``heroes serve``
as a separate process on 127.0.0.1, and measures requests/s with p50/p95 latency of
``GET /api/search`` at 1, 8 and 32 concurrent clients. The baseline runs the same
searches in this process without HTTP: once with the console's full work (facets, entity
counts, histogram) and once as ``heroes search`` does (the query alone, top 10). Every
HTTP search is also appended to the audit log, as in production.

    .venv/bin/python -m bench.console --docs 100000 --data-dir var/bench-console

``--smoke`` runs the same steps at tiny sizes in a temporary directory (seconds), so that a
benchmark that no longer runs fails the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bench.common.memory import rss_mb
from config import Settings, load_settings
from documents import Page
from documents.page import Entities
from heroes.console import searchreq, searchrun, views
from heroes.console.users import UserStore
from index.backends.base import Backend
from index.store import Store
from query.model import Search
from query.querystring import parse_query_string

WORDS = [f"w{i}" for i in range(20_000)] + (
    "tea coffee market forum listing shipping vendor escrow review garden books lamp".split()
)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 5_000


def _zipf_pick(rnd: random.Random, items: list[str]) -> str:
    return items[min(int(rnd.paretovariate(1.1)) - 1, len(items) - 1)]


def make_pages(start: int, count: int, hosts: list[str], seed: int = 1) -> list[Page]:
    rnd = random.Random(seed + start)
    pages = []
    for n in range(start, start + count):
        host = _zipf_pick(rnd, hosts)
        text = " ".join(_zipf_pick(rnd, WORDS) for _ in range(60))
        wallets = [f"bc1qbench{rnd.randrange(50_000):030d}"] if rnd.random() < 0.3 else []
        emails = [f"user{rnd.randrange(20_000)}@example.org"] if rnd.random() < 0.3 else []
        pages.append(
            Page(
                url=f"http://{host}/p/{n}",
                fetched_at=T0 + timedelta(seconds=n * 47 % 63_000_000),
                title=" ".join(_zipf_pick(rnd, WORDS) for _ in range(5)),
                text=text,
                lang="en",
                sha256=hashlib.sha256(f"{n}".encode()).hexdigest(),
                entities=Entities(btc=wallets, emails=emails),
            )
        )
    return pages


async def build(settings: Settings, docs: int) -> None:
    hosts = [hashlib.sha256(f"h{i}".encode()).hexdigest()[:56] + ".onion" for i in range(2000)]
    store = Store(settings)
    started = time.monotonic()
    # The writer creates the index on first use, so a fresh data directory works too.
    async with store.writer() as drainer:
        have = await drainer.backend.count("page")
        if have >= docs:
            print(f"index has {have} pages (wanted {docs}): reusing it")
            store.close()
            return
        print(f"indexing {docs - have} pages (have {have}) ...", flush=True)
        for start in range(have, docs, BATCH):
            store.append(make_pages(start, min(BATCH, docs - start), hosts))
            await drainer.drain_all()
            if (start // BATCH) % 20 == 0:
                rate = (start + BATCH - have) / (time.monotonic() - started)
                print(f"  {start + BATCH} pages, {rate:.0f}/s", flush=True)
    store.close()
    print(f"indexed in {time.monotonic() - started:.0f} s")


def queries(count: int, seed: int = 3) -> list[dict[str, str]]:
    """A mix over the Zipf vocabulary: very common words (large hit sets, costly facets),
    rarer words sorted by time, phrases, and a one-month window."""
    rnd = random.Random(seed)
    common, middle = WORDS[:50], WORDS[50:2000]
    out = []
    for i in range(count):
        shape = i % 4
        if shape == 0:
            q = {"q": rnd.choice(common)}
        elif shape == 1:
            q = {"q": rnd.choice(middle), "sort": "newest"}
        elif shape == 2:
            q = {"q": f'"{rnd.choice(common)} {rnd.choice(common)}"'}
        else:
            q = {"q": rnd.choice(middle[:200]), "from": "2025-03-01", "to": "2025-04-01"}
        out.append({"kind": "page", **q})
    return out


def summary(label: str, latencies: list[float], wall: float) -> dict[str, float]:
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1000
    p95 = lat[int(len(lat) * 0.95) - 1] * 1000
    rps = len(lat) / wall
    print(f"{label:<34} {rps:>9.1f} req/s   p50 {p50:>8.1f} ms   p95 {p95:>8.1f} ms", flush=True)
    return {"rps": rps, "p50": p50, "p95": p95}


async def drive(
    concurrency: int, work: list[dict[str, str]], one: Callable[[dict[str, str]], Awaitable[None]]
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = list(work)

    async def client() -> None:
        while queue:
            params = queue.pop()
            t = time.perf_counter()
            await one(params)
            latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


class Uncached:
    """The backend as the console saw it before the aggregation cache: no generation."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def __getattr__(self, name: str) -> object:
        return getattr(self.backend, name)

    def generation(self, kind: str) -> None:
        return None


async def in_process(settings: Settings, work: list[dict[str, str]], levels: list[int]) -> dict:
    store = Store(settings)
    results = {}
    async with store.reader() as backend:

        async def full(params: dict[str, str]) -> None:
            await views.search(backend, searchreq.parse_request(params))

        async def uncached(params: dict[str, str]) -> None:
            await views.search(Uncached(backend), searchreq.parse_request(params))  # type: ignore[arg-type]

        async def plain(params: dict[str, str]) -> None:
            await backend.search(
                Search(kind="page", query=parse_query_string(params["q"], "page"), size=10)
            )

        await drive(4, work[:20], full)  # warm-up
        for c in levels:
            lat, wall = await drive(c, work, uncached)
            results[("uncached", c)] = summary(f"in-process, console, no cache, c={c}", lat, wall)
            searchrun.CACHE.clear()  # each run starts cold: hits are repeats within the run
            lat, wall = await drive(c, work, full)
            results[("full", c)] = summary(f"in-process, console work, c={c}", lat, wall)
            print(f"  aggregation cache: {searchrun.CACHE.hits} hits, "
                  f"{searchrun.CACHE.misses} misses", flush=True)
            searchrun.CACHE.hits = searchrun.CACHE.misses = 0
            lat, wall = await drive(c, work, plain)
            results[("plain", c)] = summary(f"in-process, heroes search, c={c}", lat, wall)
    store.close()
    return results


async def over_http(
    base: str, user: str, password: str, work: list[dict[str, str]], levels: list[int]
) -> dict:
    results = {}
    connector = aiohttp.TCPConnector(limit=64)
    jar = aiohttp.CookieJar(unsafe=True)  # the console runs on an IP address
    async with aiohttp.ClientSession(base, connector=connector, cookie_jar=jar) as http:
        async with http.post("/api/login", json={"name": user, "password": password}) as resp:
            resp.raise_for_status()

        async def one(params: dict[str, str]) -> None:
            async with http.get("/api/search?" + urlencode(params)) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status} for {params!r}")

        await drive(4, work[:20], one)
        for c in levels:
            lat, wall = await drive(c, work, one)
            results[("http", c)] = summary(f"HTTP /api/search, c={c}", lat, wall)
    return results


async def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"heroes serve exited with {proc.returncode}")
            try:
                async with http.get(base + "/api/openapi.json") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("heroes serve did not answer in time")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main_async(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    settings = load_settings(
        None, environ={}, overrides={"data_dir": str(data_dir), "console": {"drain": False}}
    )
    await build(settings, args.docs)
    users = UserStore.for_data_dir(data_dir, settings.console)
    password = secrets.token_urlsafe(16)
    users.add("bench", "analyst", password, replace=True)
    users.close()
    work = queries(args.requests)
    levels = [int(c) for c in args.concurrency.split(",")]
    print(
        f"\n{args.requests} searches per run over {args.docs} pages; "
        f"{os.cpu_count()} cores shared by server and clients\n"
    )
    base_results = await in_process(settings, work, levels)
    port = args.port
    env = {**os.environ, "HEROES_CONSOLE__DRAIN": "false", "HEROES_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heroes.cli",
            "--data-dir",
            str(data_dir),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base, proc)
        http_results = await over_http(base, "bench", password, work, levels)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print("\nratio console work with / without the aggregation cache (requests/s, p95):")
    for c in levels:
        w, wo = base_results[("full", c)], base_results[("uncached", c)]
        print(f"  c={c:<3} {w['rps'] / wo['rps']:.2f}x requests/s, p95 {w['p95']:.1f} ms "
              f"vs {wo['p95']:.1f} ms")
    print(f"\nresident memory of this process: {rss_mb():.0f} MiB")
    print("\nratio HTTP / in-process (requests/s):")
    for c in levels:
        h = http_results[("http", c)]["rps"]
        print(
            f"  c={c:<3} vs console work {h / base_results[('full', c)]['rps']:.2f}"
            f"   vs heroes search {h / base_results[('plain', c)]['rps']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="Pages to index (default 1M).")
    parser.add_argument("--data-dir", default="var/bench-console", help="Where the index lives.")
    parser.add_argument("--requests", type=int, default=400, help="Searches per measured run.")
    parser.add_argument("--concurrency", default="1,8,32", help="Client counts to measure.")
    parser.add_argument("--port", type=int, default=18080, help="Console port on 127.0.0.1.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes in a temporary dir.")
    args = parser.parse_args()
    if not args.smoke:
        asyncio.run(main_async(args))
        return
    args.docs, args.requests, args.concurrency, args.port = 2_000, 24, "1,4", free_port()
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        args.data_dir = tmp
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
