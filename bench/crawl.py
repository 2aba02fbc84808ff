"""Crawl throughput on the lab world: our SOCKS handler with per-onion isolation against the
baseline Ahmia uses (Scrapy's default HTTP/1.1 handler behind Privoxy, ``forward-socks5t``).

Brings up the Tor half of the lab world with a 1,000-page site, crawls that site at
concurrency 16 and 32 with each handler (each crawl a fresh process, ``RUNS`` times, median
reported), prints pages/s and the ratio ours/baseline, then measures extraction pages/s on
one core over the stored pages. Then the crawl service's scaling: the same site crawled by
crawler processes sharing one Redis frontier (the lab's Redis) and the one lab Tor client,
1 and 3 of them (the longest crawl time, pages summed over their summaries), against
today's one-shot crawl (one process, the job's own SQLite frontier) in the same run. Each
frontier process prints its counters: leases, empty lease answers (with nothing in flight),
seconds waited for a lease, wake-ups, NEWNYMs, circuit failures, 429s, hosts down.

With ``--population`` the scaling is measured on the lab population instead (34 onions of
several sizes, mirrors, dead and rate-limited ones, a calendar trap bounded by
``POPULATION_HOST_CAP`` pages per host; the slow onion's delay set to
``POPULATION_SLOW_S``): every crawl keeps the default ``crawler.concurrency_per_host``, so
many onions are crawled side by side and the per-host cap no longer serialises the
processes. The lab's sites' request log then also says how long every onion but the
rate-limited one took, and what the rate-limited one answered: that onion (5 requests per
10 s) is fetched one page per learned delay by one crawler, so its last pages end every
crawl whatever the number of processes.

What 3 processes cost before host affinity (measured here): every onion but the
rate-limited one was done 3x sooner, but the three processes' throttles, each seeing a third
of that onion's answers, overran it together (five 429s within a second), each learned a
delay of up to a minute from its share of the answers, and that onion's tail made the crawl
take 3.6x as long as one process. With the frontier keeping each host with one crawler
(``frontier.host_affinity_s``) and the 429s of one burst teaching the delay once, the
rate-limited onion answers one 429 whatever the number of processes.

Where the time goes (2 cores shared by 9 tor processes, the web server and Scrapy): each
new Tor stream to an onion costs a RELAY_BEGIN round trip over a six-hop circuit, so our
handler keeps HTTP/1.1 connections alive per (client, username, onion) and reuses them;
Privoxy adds a process and a hop per request. In the crawler process the largest cost is
extraction (parse, text, language, entities: see the last figure), shared by both modes.
Run inside the loopback-only namespace::

    bash scripts/loopback-only.sh .venv/bin/python bench/crawl.py
    bash scripts/loopback-only.sh .venv/bin/python bench/crawl.py --population --runs 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNS = 3
PAGES = 1000
CONCURRENCY = (16, 32)
PRIVOXY_PORT_OFFSET = 510
POPULATION_HOST_CAP = 60
POPULATION_SLOW_S = 5.0
POPULATION_CONCURRENCY = 16


class PrivoxyProxyMiddleware:
    """Baseline only: send every request to Privoxy as an HTTP proxy (no per-onion identity)."""

    def __init__(self, proxy: str):
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Any) -> PrivoxyProxyMiddleware:
        return cls(crawler.settings["BENCH_PROXY"])

    def process_request(self, request: Any) -> None:
        request.meta["proxy"] = self.proxy


def _crawler_overrides(concurrency: int, per_host: int | None, host_cap: int | None
                       ) -> dict[str, Any]:
    """The ``[crawler]`` settings of every bench crawl: ``per_host`` None is the site
    bench's (one onion, so per-host concurrency = concurrency), else that cap per onion."""
    out: dict[str, Any] = {"concurrency": concurrency,
                           "concurrency_per_host": per_host or concurrency,
                           "max_depth": 100, "fetch_media": False}
    if per_host is None:
        # The site bench measures the transport on one onion: the per-host politeness (two
        # streams, a quarter of a second apart) would hold both modes to ~4 pages/s.
        out["politeness"] = False
    if host_cap is not None:
        out["max_pages_per_host"] = host_cap
    return out


def one_crawl(
    mode: str, concurrency: int, seed: str, data_dir: Path, socks: int, privoxy: int,
    per_host: int | None = None, host_cap: int | None = None,
) -> dict[str, Any]:
    """One crawl in this process (a fresh process per call: Twisted's reactor runs once)."""
    from config import load_settings
    from crawler.run import run_crawl
    from crawler.tor.client import TorEndpoint

    settings = load_settings(
        None,
        environ={},
        overrides={
            "data_dir": str(data_dir),
            "log_level": "WARNING",
            "crawler": _crawler_overrides(concurrency, per_host, host_cap),
        },
    )
    extra: dict[str, Any] = {}
    if mode == "privoxy":
        extra = {
            "DOWNLOAD_HANDLERS": {
                "http": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
            },
            "DOWNLOADER_MIDDLEWARES": {
                "crawler.middlewares.scope.OnionScopeDownloaderMiddleware": 50,
                "bench.crawl.PrivoxyProxyMiddleware": 740,
            },
            "BENCH_PROXY": f"http://127.0.0.1:{privoxy}",
        }
    summary = run_crawl(
        settings, [seed], endpoints=[TorEndpoint("127.0.0.1", socks, None)], scrapy_extra=extra
    )
    return {"pages": summary.pages, "errors": summary.page_errors, "seconds": summary.crawl_seconds}


def _privoxy_config(lab_dir: Path, port: int, socks: int) -> Path:
    config = lab_dir / "privoxy.conf"
    config.write_text(
        f"listen-address 127.0.0.1:{port}\n"
        f"forward-socks5t / 127.0.0.1:{socks} .\n"
        "toggle 0\nenable-remote-toggle 0\nenable-edit-actions 0\n"
        "accept-intercepted-requests 0\nkeep-alive-timeout 30\nsocket-timeout 60\n"
        "max-client-connections 512\n"
        f"logdir {lab_dir}\nlogfile privoxy.log\n"
    )
    return config


def _crawl_subprocess(
    mode: str, concurrency: int, seed: str, lab: dict[str, Any], privoxy: int,
    per_host: int | None = None, host_cap: int | None = None,
) -> dict[str, Any]:
    limits = [*(["--per-host", str(per_host)] if per_host else []),
              *(["--host-cap", str(host_cap)] if host_cap else [])]
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as data_dir:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                mode,
                str(concurrency),
                seed,
                data_dir,
                str(lab["socks"]["port"]),
                str(privoxy),
                *limits,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=ROOT,
        )
    if done.returncode != 0:
        raise SystemExit(f"{mode} crawl failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _wait_port(port: int, log: Path, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"privoxy did not listen on {port}: {log.read_text()[-2000:]}"
                ) from exc
            time.sleep(0.05)


# The per-process counters the scaling figures print: where a crawler waits (empty leases,
# with nothing in flight), and what the shared Tor client and the sites did to it (NEWNYMs,
# circuit failures, 429s, hosts backing off).
DIAGNOSTICS = ("heroes/pages", "heroes/frontier/leased", "heroes/frontier/lease_calls",
               "heroes/frontier/lease_empty", "heroes/frontier/lease_empty_idle",
               "heroes/frontier/wait_s", "heroes/frontier/wakeups", "heroes/tor/newnym",
               "heroes/socks/circuit", "heroes/throttle/limited", "heroes/hosts/down",
               "heroes/hosts/backing_off", "retry/count")


class StatsDumpExtension:
    """Bench only: write the crawl's numeric ``heroes/`` and ``retry/`` stats as JSON to the
    ``BENCH_STATS`` file when the spider closes."""

    def __init__(self, crawler: Any):
        from scrapy import signals

        self.crawler = crawler
        self.path = Path(crawler.settings["BENCH_STATS"])
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> StatsDumpExtension:
        return cls(crawler)

    def closed(self, **_: Any) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        self.path.write_text(json.dumps({k: v for k, v in stats.items()
                                         if k.startswith(("heroes/", "retry/"))
                                         and isinstance(v, int | float)}))


def frontier_crawl(args: argparse.Namespace) -> dict[str, Any]:
    """One crawler process on the Redis frontier (``--frontier-one``), in this process."""
    from config import load_settings
    from crawler.run import run_crawl
    from crawler.settings import EXTENSIONS
    from crawler.tor.client import TorEndpoint

    settings = load_settings(None, environ={}, overrides={
        "data_dir": args.data, "log_level": "WARNING",
        "frontier": {"backend": "redis"}, "coordination": {"redis_url": args.redis},
        "crawler": {**_crawler_overrides(args.concurrency, args.per_host, args.host_cap),
                    "warc": False}})
    extra = {"EXTENSIONS": {**EXTENSIONS, "bench.crawl.StatsDumpExtension": 900},
             "BENCH_STATS": args.stats}
    summary = run_crawl(settings, [args.seed], job=args.job,
                        endpoints=[TorEndpoint("127.0.0.1", args.socks, args.control)],
                        scrapy_extra=extra)
    return {"pages": summary.pages, "crawl_seconds": summary.crawl_seconds}


def _processes_crawl(n: int, concurrency: int, seed: str, lab: dict[str, Any],
                     redis_url: str, job: str, per_host: int | None = None,
                     host_cap: int | None = None, logs: Path | None = None
                     ) -> tuple[int, float, list[dict[str, float]]]:
    """``n`` crawler processes on one Redis frontier and one lab Tor client: (pages, seconds
    of the longest crawl, each process's counters). The processes start together, and
    start-up is left out as for the one-shot; their logs go to ``logs``."""
    limits = [*(["--per-host", str(per_host)] if per_host else []),
              *(["--host-cap", str(host_cap)] if host_cap else [])]
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        log_dir = logs or Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        handles = [(log_dir / f"{job}-{i}.log").open("w") for i in range(n)]
        stats_files = [Path(tmp) / f"stats-{i}.json" for i in range(n)]
        procs = [subprocess.Popen(
            [sys.executable, __file__, "--frontier-one", "--seed", seed,
             "--data", f"{tmp}/{i}", "--socks", str(lab["socks"]["port"]),
             "--control", str(lab["control"]["port"]), "--redis", redis_url, "--job", job,
             "--concurrency", str(concurrency), "--stats", str(stats_files[i]), *limits],
            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=handle)
            for i, handle in enumerate(handles)]
        outs = [proc.communicate(timeout=1800)[0] for proc in procs]
        for handle in handles:
            handle.close()
        stats = [json.loads(path.read_text()) if path.exists() else {} for path in stats_files]
    pages, seconds = 0, 0.0
    for proc, out in zip(procs, outs, strict=True):
        if proc.returncode != 0:
            raise SystemExit(f"a frontier crawl process failed ({proc.returncode}):\n{out[-2000:]}")
        summary = json.loads(out.strip().splitlines()[-1])
        pages += int(summary["pages"])
        seconds = max(seconds, float(summary["crawl_seconds"]))
    return pages, seconds, stats


def _print_diagnostics(stats: list[dict[str, float]]) -> None:
    for i, values in enumerate(stats):
        shown = ", ".join(f"{name.split('/', 1)[1]}={values.get(name, 0):g}"
                          for name in DIAGNOSTICS)
        print(f"    process {i}: {shown}")


def _served(requests_log: Path | None, since: float, limited: str) -> str:
    """What the lab's sites served since ``since`` (wall clock): how long every onion but
    the rate-limited one took, and the rate-limited one's answers by status."""
    if requests_log is None or not requests_log.exists():
        return ""
    rows = [json.loads(line) for line in requests_log.read_text().splitlines() if line]
    rows = [r for r in rows if r["at"] >= since and r["path"] != "/lab-probe"]
    if not rows:
        return ""
    others = [r["at"] for r in rows if r["host"] != limited]
    statuses: dict[int, int] = {}
    for r in rows:
        if r["host"] == limited:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    span = max(others) - rows[0]["at"] if others else 0.0
    return (f"    every onion but the rate-limited one done {span:.1f} s after the first "
            f"request; the rate-limited one answered {statuses}")


def scaling(seed: str, lab: dict[str, Any], lab_dir: Path, concurrency: int, runs: int,
            per_host: int | None = None, host_cap: int | None = None,
            logs: Path | None = None, requests_log: Path | None = None,
            limited: str = "") -> None:
    """pages/s of 1 and 3 processes on a Redis frontier, against the one-shot crawl; the
    crawl processes' logs are kept in ``logs`` when given. With the population's
    ``requests_log`` each crawl also says what the sites served (``limited``: the
    rate-limited onion)."""
    from heroes.lab import redis as lab_redis

    rates: dict[str, list[float]] = {"one-shot": [], "1 process": [], "3 processes": []}
    redis_url = str(lab_redis.up(lab_dir / "bench-redis")["url"])
    try:
        for run in range(runs):
            since = time.time()
            r = _crawl_subprocess("socks", concurrency, seed, lab, 0, per_host, host_cap)
            rates["one-shot"].append(r["pages"] / r["seconds"])
            print(f"  one-shot     {r['pages']} pages in {r['seconds']:.1f} s")
            if served := _served(requests_log, since, limited):
                print(served)
            for n in (1, 3):
                since = time.time()
                pages, seconds, stats = _processes_crawl(
                    n, concurrency, seed, lab, redis_url, f"bench-{n}-{run}", per_host,
                    host_cap, logs)
                print(f"  {n} process(es) {pages} pages in {seconds:.1f} s")
                if pages == 0:  # the seed's onion failed (lab Tor): not a crawl to count
                    print("    (no page: left out of the median)")
                else:
                    rates[f"{n} process{'es' if n > 1 else ''}"].append(pages / seconds)
                if served := _served(requests_log, since, limited):
                    print(served)
                _print_diagnostics(stats)
    finally:
        lab_redis.down(lab_dir / "bench-redis")
    median = {k: statistics.median(v) if v else float("nan") for k, v in rates.items()}
    print(f"\ncrawl processes on one Redis frontier, c={concurrency} each, median of {runs} "
          "(crawl time, start-up left out)")
    for name, rate in median.items():
        print(f"{name:>12s} {rate:>8.1f} pages/s {rate / median['one-shot']:>6.2f}x one-shot")
    print(f"{'3 / 1':>12s} {median['3 processes'] / median['1 process']:>8.2f}")
    print("  (every process goes through the one lab Tor client: the 3 processes share its "
          "circuits, its onion-service state and its NEWNYMs)")
    if per_host is None:
        print("  (one onion: the frontier's per-host lease cap, crawler.concurrency_per_host, "
              "holds for all processes together, so more processes pay off across many onions)")


def population_main(runs: int, concurrency: int = POPULATION_CONCURRENCY,
                    logs: Path | None = None) -> None:
    """The scaling figures on the lab population (many onions)."""
    from config import load_settings
    from heroes.lab import population, world

    lab_dir = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    t0 = time.monotonic()
    try:
        lab = world.up(lab_dir, swarm=False, smtp=False, access_sites=False)
        info = population.up(lab_dir, population.PopulationOptions(
            seed=3, slow_delay_s=POPULATION_SLOW_S, schedule_up_s=0))
        print(f"lab world and population up in {time.monotonic() - t0:.1f} s")
        per_host = load_settings(None, environ={}).crawler.concurrency_per_host
        print(f"population: {len(info['onions'])} onions, c={concurrency}, "
              f"{per_host} per onion, at most {POPULATION_HOST_CAP} pages per onion, "
              f"slow onion {POPULATION_SLOW_S:g} s")
        truth = json.loads(Path(info["ground_truth"]).read_text())
        scaling(str(info["seed_url"]), lab, lab_dir, concurrency, runs, per_host,
                POPULATION_HOST_CAP, logs, Path(info["requests_log"]),
                str(truth["rate_limited"]["onion"]))
    finally:
        population.down(lab_dir)
        world.down(lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)


def extraction_rate(sites_dir: Path) -> tuple[int, float]:
    from crawler.extract.page import extract_page

    pages = [(f"http://x.onion/{p.name}", p.read_bytes()) for p in sites_dir.rglob("*.html")]
    # Untimed: the first page loads the language model (0.7 s, most of this figure before).
    extract_page(*pages[0], {"Content-Type": "text/html"})
    started = time.perf_counter()
    for url, body in pages:
        extract_page(url, body, {"Content-Type": "text/html"})
    return len(pages), len(pages) / (time.perf_counter() - started)


def main(pages: int = PAGES, levels: tuple[int, ...] = CONCURRENCY, runs: int = RUNS) -> None:
    from heroes.lab import world
    from heroes.lab.processes import spawn, stop

    lab_dir = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    t0 = time.monotonic()
    lab = world.up(lab_dir, swarm=False, big_site_pages=pages)
    print(f"lab world up in {time.monotonic() - t0:.1f} s ({lab['timings']})")
    privoxy_port = lab["socks"]["port"] - 300 + PRIVOXY_PORT_OFFSET
    privoxy = spawn(
        "privoxy",
        [
            "privoxy",
            "--no-daemon",
            str(_privoxy_config(lab_dir, privoxy_port, lab["socks"]["port"])),
        ],
        lab_dir / "privoxy.stdout.log",
    )
    seed = f"http://{lab['onions']['bigsite']}/"
    results: dict[str, dict[int, list[float]]] = {"socks": {}, "privoxy": {}}
    try:
        _wait_port(privoxy_port, lab_dir / "privoxy.stdout.log")
        for concurrency in levels:
            for _ in range(runs):
                for mode in ("socks", "privoxy"):
                    r = _crawl_subprocess(mode, concurrency, seed, lab, privoxy_port)
                    rate = r["pages"] / r["seconds"]
                    results[mode].setdefault(concurrency, []).append(rate)
                    print(
                        f"  {mode:8s} c={concurrency:<3d} {r['pages']} pages "
                        f"({r['errors']} errors) in {r['seconds']:.2f} s = {rate:.0f} pages/s"
                    )
        print(f"\nmedian pages/s over {runs} runs ({pages + 1}-page onion site, "
              "fresh process per run)")
        print(
            f"{'concurrency':>12s} {'ours (SOCKS, per-onion)':>24s} {'Privoxy + default':>18s} "
            f"{'ratio':>6s}"
        )
        for concurrency in levels:
            ours = statistics.median(results["socks"][concurrency])
            base = statistics.median(results["privoxy"][concurrency])
            print(f"{concurrency:>12d} {ours:>24.0f} {base:>18.0f} {ours / base:>6.2f}")
        count, rate = extraction_rate(lab_dir / "sites")
        print(f"\nextraction: {count} stored pages, {rate:.0f} pages/s on one core")
        scaling(seed, lab, lab_dir, levels[0], runs)
    finally:
        stop([privoxy])
        world.down(lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--one", nargs=6, metavar=("MODE", "CONC", "SEED", "DATA", "SOCKS", "PRIVOXY")
    )
    parser.add_argument("--smoke", action="store_true", help="a 30-page site, c=4, one run")
    parser.add_argument("--population", action="store_true",
                        help="only the scaling figures, on the lab population")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--per-host", type=int, help="with --one: crawler.concurrency_per_host")
    parser.add_argument("--host-cap", type=int, help="with --one: crawler.max_pages_per_host")
    parser.add_argument("--logs", type=Path, help="keep the crawl processes' logs here")
    parser.add_argument("--frontier-one", action="store_true",
                        help="one crawler process on the Redis frontier (used by the bench)")
    for name in ("seed", "data", "redis", "job", "stats"):
        parser.add_argument(f"--{name}")
    for name in ("socks", "control", "concurrency"):
        parser.add_argument(f"--{name}", type=int)
    args = parser.parse_args()
    if args.one or args.frontier_one:
        # Each crawl process is set up as `heroes crawl` sets up its own, in both modes.
        from telemetry.python_heap import tune_garbage_collector
        tune_garbage_collector()
    if args.frontier_one:
        print(json.dumps(frontier_crawl(args)))
    elif args.population:
        population_main(args.runs, logs=args.logs)
    elif args.smoke:
        main(pages=30, levels=(4,), runs=1)
    elif args.one:
        mode, conc, seed, data, socks, privoxy = args.one
        print(json.dumps(one_crawl(mode, int(conc), seed, Path(data), int(socks), int(privoxy),
                                   args.per_host, args.host_cap)))
    else:
        main()
