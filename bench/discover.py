"""Discovery cost on the lab DHT: distinct infohashes per minute, time to a watched flagged torrent.

Brings a lab DHT up (100 nodes, 3,000 stored infohashes plus the generated torrents, two of
them named with the lab keyword list's words), imports that keyword list, then runs, in the
same invocation and at the same query rate:

- baseline: a bare sampler, ``sample_infohashes`` to every known node round-robin, no dedup
  against the index, no metadata, no documents;
- discovery: ``heroes probe discover``'s role with the drain and a probe reading the index,
  from the first sample until the keyword torrent is watched and its seed observed.

Prints distinct infohashes after 10 s and per minute for both, and for discovery the time
from the first sample to the flagged torrent being watched, metadata fetched/min and the
payload counters (0). Run inside the loopback-only namespace:

    bash scripts/loopback-only.sh .venv/bin/python -m bench.discover [--rate 50] [--window 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import libtorrent as lt
from click.testing import CliRunner

from config import load_settings
from heroes.cli import main as cli
from heroes.lab import dht as lab_dht
from heroes.roles import run_roles
from index.store import Store
from monitors.discovery import Discoverer
from monitors.lt_settings import base_settings
from monitors.probe import Probe

LAB_DHT = {"dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
           "dht_prefer_verified_node_ids": False, "dht_ignore_dark_internet": False}


def baseline(router: str, rate: float, window: float) -> dict[str, Any]:
    """sample_infohashes only: every known node in turn, ``rate`` queries per second."""
    pack = base_settings("127.0.0.91", 0, dht=True, bootstrap=[router])
    pack.update({"dht_read_only": True, "dht_block_ratelimit": 100_000})
    ses = lt.session(pack, 0)
    while ses.status().dht_nodes == 0:
        ses.wait_for_alert(10)
    nid = lt.sha1_hash(bytes(ses.dht_state()[b"node-id"][0][:20]))
    nodes: list[tuple[str, int]] = []
    known: set[tuple[str, int]] = set()
    found: set[str] = set()
    started = time.monotonic()
    at_10 = None
    sent = 0
    turn = 0
    while time.monotonic() - started < window:
        now = time.monotonic() - started
        if at_10 is None and now >= 10:
            at_10 = len(found)
        if int(now * 2) != int((now - 0.01) * 2):
            ses.dht_live_nodes(nid)
        while sent < now * rate and nodes:
            ses.dht_sample_infohashes(nodes[turn % len(nodes)], lt.sha1_hash(os.urandom(20)))
            turn += 1
            sent += 1
        ses.wait_for_alert(10)
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_sample_infohashes_alert):
                found.update(str(h) for h in a.samples)
                for n in a.nodes:
                    ep = (n["endpoint"][0], int(n["endpoint"][1]))
                    if ep not in known:
                        known.add(ep)
                        nodes.append(ep)
            elif isinstance(a, lt.dht_live_nodes_alert):
                for n in a.nodes:
                    ep = (n["endpoint"][0], int(n["endpoint"][1]))
                    if ep not in known:
                        known.add(ep)
                        nodes.append(ep)
    del ses
    return {"distinct": len(found), "distinct_10s": at_10, "queries": sent,
            "per_min": round(len(found) * 60 / window, 1)}


async def discovery(info: dict[str, Any], data: Path, rate: float, window: float
                    ) -> dict[str, Any]:
    settings = load_settings(None, overrides={"data_dir": str(data), "probe": {
        "listen_ip": "127.0.0.92", "dht_bootstrap_nodes": [info["router"]], **LAB_DHT,
        "pex": False, "peer_poll_s": 0.2, "index_refresh_s": 1.0, "dht_revisit_s": 2.0,
        "metadata_timeout_s": 3.0,
        "discovery": {"listen_interfaces": "127.0.0.93:0", "rate_per_s": rate,
                      "node_gap_s": 1.0, "metadata_batch": 100}}})
    store = Store(settings)
    hit = next(t for t in info["torrents"] if t["keywords"])
    seed_ip = info["seed"].split(":")[0]
    disc = Discoverer(settings, store, keep_found=True)
    probe = Probe(settings, store, use_index=True)
    stop = asyncio.Event()
    marks: dict[str, float] = {}

    async def watch() -> None:
        started = time.monotonic()
        while time.monotonic() - started < max(window, 180):
            now = time.monotonic() - started
            if disc.rates.samples and "first_sample" not in marks:
                marks["first_sample"] = now
            if now >= 10 and "distinct_10s" not in marks:
                marks["distinct_10s"] = len(disc.found or ())
            if hit["infohash"] in probe.watcher.targets and "watched" not in marks:
                marks["watched"] = now
            if any(k == hit["infohash"] and ip == seed_ip and r.level >= 1
                   for (k, ip, _), r in probe.recorder.peers.items()):
                marks.setdefault("observed", now)
            if now >= window and "observed" in marks:
                break
            await asyncio.sleep(0.1)
        marks["elapsed"] = time.monotonic() - started
        stop.set()

    try:
        task = asyncio.create_task(watch())
        await run_roles([store.drain_role(), probe, disc], stop, signals=False)
        await task
    finally:
        store.close()
    snap = disc.snapshot()
    first = marks.get("first_sample", 0.0)
    return {"distinct": snap["distinct"], "distinct_10s": marks.get("distinct_10s"),
            "per_min": round(snap["distinct"] * 60 / marks["elapsed"], 1),
            "metadata_per_min": snap["metadata_per_min"],
            "to_watched_s": round(marks["watched"] - first, 1) if "watched" in marks else None,
            "to_observed_s": round(marks["observed"] - first, 1) if "observed" in marks
            else None, "payload": snap["payload"], "probe_payload_ok": probe.summary.payload_ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="queries per second")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--hashes", type=int, default=3000)
    parser.add_argument("--smoke", action="store_true", help="20 nodes, 300 hashes, 10 s runs")
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.hashes, args.window = 20, 300, 10.0
    with tempfile.TemporaryDirectory() as tmp:
        lab_dir = Path(tmp) / "lab"
        info = lab_dht.up(lab_dir, nodes=args.nodes, hashes=args.hashes, net=63)
        try:
            stored = len(info["stored"]) + len(info["torrents"])
            words = Path(tmp) / "lab-keywords.txt"
            words.write_text("\n".join(info["keywords"]) + "\n")
            data = Path(tmp) / "data"
            CliRunner().invoke(cli, ["--data-dir", str(data), "hashes", "import", str(words),
                                     "--type", "keyword"])
            b = baseline(info["router"], args.rate, args.window)
            d = asyncio.run(discovery(info, data, args.rate, args.window))
        finally:
            lab_dht.down(lab_dir)
    print(f"lab DHT: {args.nodes} nodes, {stored} stored infohashes, {args.rate:.0f} queries/s")
    print(f"  baseline : {b['distinct']} distinct ({b['distinct_10s']} after 10 s), "
          f"{b['per_min']}/min over {args.window:.0f} s")
    print(f"  discovery: {d['distinct']} distinct ({d['distinct_10s']} after 10 s), "
          f"{d['per_min']}/min; metadata {d['metadata_per_min']}/min; first sample -> "
          f"flagged torrent watched {d['to_watched_s']} s, its seed observed "
          f"{d['to_observed_s']} s; payload {d['payload']} probe ok {d['probe_payload_ok']}")


if __name__ == "__main__":
    main()
