"""Crawl throughput on the lab world: our SOCKS handler with per-onion isolation against the
baseline Ahmia uses (Scrapy's default HTTP/1.1 handler behind Privoxy, ``forward-socks5t``).

Brings up the Tor half of the lab world with a 1,000-page site, crawls that site at
concurrency 16 and 32 with each handler (each crawl a fresh process, ``RUNS`` times, median
reported), prints pages/s and the ratio ours/baseline, then measures extraction pages/s on
one core over the stored pages.

Where the time goes (2 cores shared by 9 tor processes, the web server and Scrapy): each
new Tor stream to an onion costs a RELAY_BEGIN round trip over a six-hop circuit, so our
handler keeps HTTP/1.1 connections alive per (client, username, onion) and reuses them;
Privoxy adds a process and a hop per request. In the crawler process the largest cost is
extraction (parse, text, language, entities: see the last figure), shared by both modes.
Run inside the loopback-only namespace::

    bash scripts/loopback-only.sh .venv/bin/python bench/crawl.py
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


class PrivoxyProxyMiddleware:
    """Baseline only: send every request to Privoxy as an HTTP proxy (no per-onion identity)."""

    def __init__(self, proxy: str):
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Any) -> PrivoxyProxyMiddleware:
        return cls(crawler.settings["BENCH_PROXY"])

    def process_request(self, request: Any) -> None:
        request.meta["proxy"] = self.proxy


def one_crawl(
    mode: str, concurrency: int, seed: str, data_dir: Path, socks: int, privoxy: int
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
            "crawler": {
                "concurrency": concurrency,
                "concurrency_per_host": concurrency,
                "max_depth": 100,
                "fetch_media": False,
            },
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
    mode: str, concurrency: int, seed: str, lab: dict[str, Any], privoxy: int
) -> dict[str, Any]:
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


def extraction_rate(sites_dir: Path) -> tuple[int, float]:
    from crawler.extract.page import extract_page

    pages = [(f"http://x.onion/{p.name}", p.read_bytes()) for p in sites_dir.rglob("*.html")]
    started = time.perf_counter()
    for url, body in pages:
        extract_page(url, body, {"Content-Type": "text/html"})
    return len(pages), len(pages) / (time.perf_counter() - started)


def main() -> None:
    from heroes.lab import world
    from heroes.lab.tor_procs import spawn, stop

    lab_dir = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    t0 = time.monotonic()
    lab = world.up(lab_dir, swarm=False, big_site_pages=PAGES)
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
        for concurrency in CONCURRENCY:
            for _ in range(RUNS):
                for mode in ("socks", "privoxy"):
                    r = _crawl_subprocess(mode, concurrency, seed, lab, privoxy_port)
                    rate = r["pages"] / r["seconds"]
                    results[mode].setdefault(concurrency, []).append(rate)
                    print(
                        f"  {mode:8s} c={concurrency:<3d} {r['pages']} pages "
                        f"({r['errors']} errors) in {r['seconds']:.2f} s = {rate:.0f} pages/s"
                    )
        print("\nmedian pages/s over", RUNS, "runs (1,001-page onion site, fresh process per run)")
        print(
            f"{'concurrency':>12s} {'ours (SOCKS, per-onion)':>24s} {'Privoxy + default':>18s} "
            f"{'ratio':>6s}"
        )
        for concurrency in CONCURRENCY:
            ours = statistics.median(results["socks"][concurrency])
            base = statistics.median(results["privoxy"][concurrency])
            print(f"{concurrency:>12d} {ours:>24.0f} {base:>18.0f} {ours / base:>6.2f}")
        count, rate = extraction_rate(lab_dir / "sites")
        print(f"\nextraction: {count} stored pages, {rate:.0f} pages/s on one core")
    finally:
        stop([privoxy])
        world.down(lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--one", nargs=6, metavar=("MODE", "CONC", "SEED", "DATA", "SOCKS", "PRIVOXY")
    )
    args = parser.parse_args()
    if args.one:
        mode, conc, seed, data, socks, privoxy = args.one
        print(json.dumps(one_crawl(mode, int(conc), seed, Path(data), int(socks), int(privoxy))))
    else:
        main()
