"""Defended onions on the lab world: politeness against today's settings, rendering against
plain fetching.

1. The rate-limited lab site (``RATE_LIMIT`` requests per ``RATE_WINDOW_S`` window, then 429
   with ``Retry-After``), crawled with our politeness (per-host throttle fitted to the limit,
   Retry-After honoured) and with the settings before it (``crawler.politeness = false``: 8
   streams at once, 429 retried at once by Scrapy's RetryMiddleware), same run, a fresh
   process and a fresh limit window each: content pages indexed, 429s the site sent,
   pages/s.
2. The JavaScript-only lab site rendered in headless Chromium (through the isolating relay
   and Tor) against fetching it plainly: pages/s and the peak RSS of the crawl's process
   tree (proportional set size of the crawler plus Chromium's processes), sampled every
   0.1 s.

Run inside the loopback-only namespace::

    bash scripts/loopback-only.sh .venv/bin/python bench/access.py
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNS = 2


def _env(lab: dict[str, Any], data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    env.update({"HEROES_DATA_DIR": str(data_dir), "HEROES_TOR__MODE": "attach",
                "HEROES_TOR__CONTROL_PORTS": json.dumps([lab["control"]["port"]]),
                "HEROES_TOR__SOCKS_PORTS": json.dumps([lab["socks"]["port"]]),
                "HEROES_CRAWLER__WARC": "false", **extra})
    return env


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            # PSS: Chromium's processes share most of their pages; RSS would count them
            # once per process.
            total += p.memory_full_info().pss
        except (psutil.Error, AttributeError):
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


def crawl(lab: dict[str, Any], seed: str, **extra: str) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-access-"))
    started = time.time()
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "heroes.cli", "crawl", seed, "--job", "b",
                             "--json"], cwd=ROOT, env=_env(lab, data_dir, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate(timeout=900)
    seconds = time.monotonic() - t0
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed ({proc.returncode}): {err[-2000:]}")
    summary = json.loads(out[out.index("{"):])
    shutil.rmtree(data_dir, ignore_errors=True)
    return {"pages": summary["pages"], "seconds": seconds, "peak_rss": peak[0],
            "started": started}


def served(log: Path, site: str, since: float) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("site") == site and r.get("at", 0) >= since
            and "status" in r]


def main(runs: int = RUNS) -> None:
    from heroes.lab import world
    from heroes.lab.site_access import RATE_WINDOW_S
    from heroes.lab.tor_network import socks_get

    lab_dir = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    lab = world.up(lab_dir, swarm=False, smtp=False)
    try:
        sites = lab["access_sites"]
        for name in ("ratelimit", "jsonly"):
            for attempt in range(10):
                try:
                    socks_get(lab["socks"]["port"], sites[name]["onion"], "/favicon.ico",
                              username=f"bench-{name}-{attempt}", timeout=20)
                    break
                except OSError:
                    continue
        log = Path(sites["ratelimit"]["log"])
        limited_seed = f"http://{sites['ratelimit']['onion']}/"
        print(f"rate-limited site: {len(sites['ratelimit']['pages']['ratelimit'])} pages, "
              f"{sites['ratelimit']['rate_limit']} requests per {RATE_WINDOW_S} s window")
        print(f"{'mode':28s} {'pages':>5s} {'429s':>5s} {'seconds':>8s} {'pages/s':>8s}")
        for _ in range(runs):
            for mode, extra in (("ours (politeness)", {"HEROES_CRAWLER__RATE_WINDOW_S":
                                                       str(RATE_WINDOW_S)}),
                                ("today's settings", {"HEROES_CRAWLER__POLITENESS": "false"})):
                time.sleep(RATE_WINDOW_S + 1)  # a fresh limit window for each crawl
                r = crawl(lab, limited_seed, **extra)
                rows = served(log, "ratelimit", r["started"])
                limited = sum(1 for row in rows if row["status"] == 429)
                print(f"{mode:28s} {r['pages']:>5d} {limited:>5d} {r['seconds']:>8.1f} "
                      f"{r['pages'] / r['seconds']:>8.2f}")
        js_seed = f"http://{sites['jsonly']['onion']}/"
        print(f"\n{'JavaScript-only site':28s} {'pages':>5s} {'seconds':>8s} {'pages/s':>8s} "
              f"{'peak PSS MB':>12s}")
        for _ in range(runs):
            for mode, extra in (("rendered (Chromium)", {}),
                                ("plain fetch", {"HEROES_CRAWLER__RENDER_AUTO": "false"})):
                r = crawl(lab, js_seed, **extra)
                print(f"{mode:28s} {r['pages']:>5d} {r['seconds']:>8.1f} "
                      f"{r['pages'] / r['seconds']:>8.2f} {r['peak_rss'] / 2**20:>12.0f}")
        media = [row for row in served(log, "jsonly", 0) if row["path"].startswith("/media/")]
        print(f"\nmedia requests the JavaScript-only site received: {len(media)}")
    finally:
        world.down(lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)


if __name__ == "__main__":
    # --smoke: one run of each crawl instead of RUNS (the lab sites are small already).
    main(runs=1 if "--smoke" in sys.argv[1:] else RUNS)
