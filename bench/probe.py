"""Probe cost: time to find the lab swarm's peers, and CPU and memory per watched infohash.

Brings the lab swarm up, then runs each scenario in a fresh child process (so resident
memory is that scenario's alone) and prints a table:

- discovery: one target (the lab's v1 torrent), trackers only / DHT only / PEX only
  (dialling one peer); seconds from probe start until all 5 lab peers completed a
  handshake (level >= 1).
- scale: 1, 1,000, 10,000 and 100,000 watched infohashes (the real one plus random ones
  nobody has, which no tracker is asked about), trackers + DHT + PEX with the default DHT
  pacing (each target every 900 s, 120 lookups/s); seconds until the real swarm's 5 peers
  are found, seconds to add the targets, CPU seconds (user+sys) per minute and RSS after a
  fixed window. Ratios are against the 10,000-infohash run of the same invocation (the
  target: 100,000 under 1 GB, lab peers within 60 s).

Run inside the loopback-only namespace, as the tests do:

    bash scripts/loopback-only.sh .venv/bin/python -m bench.probe [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from config import load_settings
from heroes.lab import swarm
from index.store import Store
from monitors.probe import Probe
from monitors.targets import Target, parse_target


async def scenario(info: dict[str, Any], mode: str, extra: int, ip: str, window: float,
                   data_dir: Path) -> dict[str, Any]:
    proc = psutil.Process()
    cpu0 = sum(proc.cpu_times()[:2])
    rss0 = proc.memory_info().rss
    real = parse_target(info["torrents"][0]["magnet"])
    rng = random.Random(extra)
    fakes = [Target(rng.randbytes(20).hex(), None, (), "bench") for _ in range(extra)]
    probe_cfg = {"listen_ip": ip, "dht_bootstrap_nodes": [info["dht_bootstrap"]],
                 # The lab's DHT nodes share one host: the real-network defences keep one.
                 "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
                 "dht_prefer_verified_node_ids": False, "dht_ignore_dark_internet": False,
                 "announce": mode in ("tracker", "all"), "dht": mode in ("dht", "all"),
                 "pex": mode in ("pex", "all"), "peer_poll_s": 0.1, "metadata": False}
    settings = load_settings(None, overrides={"data_dir": str(data_dir), "probe": probe_cfg})
    store = Store(settings)
    seeds = [(swarm.PEERS[0].ip, swarm.PEER_PORT)] if mode == "pex" else []
    stop = asyncio.Event()
    started = time.monotonic()
    async with Probe(settings, store, targets=[real, *fakes], use_index=False,
                     seed_peers=seeds) as probe:
        added = time.monotonic() - started
        task = asyncio.create_task(probe.run(stop))
        lab = {p.ip for p in swarm.PEERS}
        found_at = None
        while time.monotonic() - started < window:
            seen = {ip for (k, ip, _), r in probe.recorder.peers.items()
                    if k == real.key and r.level >= 1}
            if found_at is None and lab <= seen:
                found_at = time.monotonic() - started
                if mode != "all":
                    break
            await asyncio.sleep(0.01)
        rss = proc.memory_info().rss
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        stop.set()
        await task
    store.close()
    minutes = max((time.monotonic() - started) / 60, 1e-6)
    return {"mode": mode, "targets": extra + 1, "all_peers_s": found_at, "add_s": round(added, 3),
            "cpu_s": round(cpu, 2), "cpu_s_per_min": round(cpu / minutes, 2),
            "rss_mb": round(rss / 2**20, 1),
            "rss_growth_mb": round((rss - rss0) / 2**20, 1),
            "payload_ok": probe.summary.payload_ok}


def child(args: argparse.Namespace) -> None:
    info = json.loads(Path(args.info).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(scenario(info, args.mode, args.extra, args.ip, args.window,
                                      Path(tmp)))
    print(json.dumps(result))


def run_child(info_file: Path, mode: str, extra: int, ip: str, window: float) -> dict[str, Any]:
    # As a module from the repository root: bench/ holds scripts named like our packages.
    out = subprocess.run([sys.executable, "-m", "bench.probe", "--child", "--info", str(info_file),
                          "--mode", mode, "--extra", str(extra), "--ip", ip,
                          "--window", str(window)],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if out.returncode != 0:
        raise SystemExit(f"scenario {mode}/{extra + 1} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per scale run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--info", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="all", help=argparse.SUPPRESS)
    parser.add_argument("--extra", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--ip", default="127.0.0.70", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help="2 s windows, 1 and 10 infohashes")
    args = parser.parse_args()
    scales = (1, 10) if args.smoke else (1, 1000, 10000, 100000)
    if args.smoke:
        args.window = 2.0
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "swarm"
        info = swarm.up(run_dir)
        info_file = Path(tmp) / "info.json"
        info_file.write_text(json.dumps(info))
        try:
            print("discovery, 1 target (s until all 5 lab peers handshaken):")
            for i, mode in enumerate(("tracker", "dht", "pex")):
                r = run_child(info_file, mode, 0, f"127.0.0.{70 + i}", 60.0)
                found = "-" if r["all_peers_s"] is None else f"{r['all_peers_s']:.3f}"
                print(f"  {mode:8s} {found:>8} s   payload ok {r['payload_ok']}")
            print(f"scale, trackers+DHT+PEX, {args.window:.0f}s window each:")
            results = {}
            for i, n in enumerate(scales):
                results[n] = run_child(info_file, "all", n - 1, f"127.0.0.{80 + i}", args.window)
            base = results.get(10000) or results[scales[-1]]
            for n, r in results.items():
                found = "-" if r["all_peers_s"] is None else f"{r['all_peers_s']:.3f}"
                cpu_x = r["cpu_s_per_min"] / max(base["cpu_s_per_min"], 0.01)
                rss_x = r["rss_mb"] / base["rss_mb"]
                print(f"  {n:>6} infohashes: all real peers {found} s, add {r['add_s']} s,"
                      f" CPU {r['cpu_s_per_min']} s/min ({cpu_x:.2f}x of 10k), RSS"
                      f" {r['rss_mb']} MB ({rss_x:.2f}x of 10k), payload ok {r['payload_ok']}")
        finally:
            swarm.down(run_dir)


if __name__ == "__main__":
    main()
