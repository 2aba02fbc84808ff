"""The demo's discovery part: sample a lab DHT, and watch the torrent a keyword list flags.

Brings a lab DHT up in the demo's lab directory (:mod:`heroes.lab.dht`: 100 nodes, stored
random infohashes and a few generated torrents, one named with a word of the lab keyword
list), imports that keyword list, and runs discovery, the drain and the probe together
until the keyword torrent is a watched target and its seed is observed. Merged with the
lab swarm's DHT, it also stores the swarm's torrents; the demo says how many of them
discovery found and fetched by then. The lab DHT is
stopped again at the end, also on failure. The lab's addresses are set here, in the
demo's own settings (the probe's real-network defaults are untouched elsewhere).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import Settings
from documents import document_id
from heroes.demo_config import PROBE_IP, HashList
from heroes.demo_steps import StepFailed, import_lists
from heroes.lab import dht as lab_dht
from heroes.lab.processes import LabProcessError
from heroes.roles import run_roles
from index.store import Store

# The probe's own address (another port): no new address to keep free in the lab world.
DISCOVERY_IP = PROBE_IP
DHT_NET = 64


@dataclass
class DiscoveryResult:
    seconds: float
    rates: dict[str, Any]
    torrent: dict[str, Any]
    peers: list[tuple[str, int, str, int]] = field(default_factory=list)
    payload_ok: bool = True
    # The lab swarm's infohashes (v1) whose metadata discovery fetched from the lab DHT.
    swarm_fetched: list[str] = field(default_factory=list)
    swarm_total: int = 0


def discovery_settings(settings: Settings, router: str) -> Settings:
    probe = settings.probe.model_copy(update={
        "dht_bootstrap_nodes": [router], "metadata_timeout_s": 3.0,
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False, "dht_ignore_dark_internet": False,
        "discovery": settings.probe.discovery.model_copy(update={
            "listen_interfaces": f"{DISCOVERY_IP}:0", "rate_per_s": 50.0, "node_gap_s": 1.0,
            "metadata_batch": 100})})
    return settings.model_copy(update={"probe": probe})


async def _run(settings: Settings, info: dict[str, Any], timeout_s: float,
               swarm_v1: list[str]) -> DiscoveryResult:
    from monitors.discovery import Discoverer
    from monitors.probe import Probe

    hit = next(t for t in info["torrents"] if t["keywords"])
    seed_ip = info["seed"].split(":")[0]
    store = Store(settings)
    disc = Discoverer(settings, store)
    probe = Probe(settings, store, use_index=True)
    stop = asyncio.Event()
    started = time.monotonic()
    done = False

    def observed() -> list[tuple[str, int, str, int]]:
        return [(ip, port, r.client, r.level) for (k, ip, port), r in probe.recorder.peers.items()
                if k == hit["infohash"] and ip == seed_ip and r.level >= 1]

    async def until_watched() -> None:
        nonlocal done
        try:
            while time.monotonic() - started < timeout_s:
                if hit["infohash"] in probe.watcher.targets and observed():
                    done = True
                    return
                await asyncio.sleep(0.25)
        finally:
            stop.set()

    try:
        waiter = asyncio.create_task(until_watched())
        await run_roles([store.drain_role(), probe, disc], stop, signals=False)
        await waiter
        async with store.reader() as backend:
            docs = await backend.get("torrent", [document_id("torrent", [hit["infohash"]])])
    finally:
        store.close()
    if not done:
        raise StepFailed(f"the keyword torrent {hit['name']!r} was not watched with its seed "
                         f"observed within {timeout_s:.0f}s; discovery: {disc.snapshot()}")
    torrent = next(iter(docs.values()), {"name": hit["name"], "infohash": hit["infohash"]})
    return DiscoveryResult(round(time.monotonic() - started, 1), disc.snapshot(), torrent,
                           observed(), probe.summary.payload_ok,
                           [h for h in swarm_v1 if h in disc.fetcher.done], len(swarm_v1))


def run(settings: Settings, lab_dir: Path, lists_dir: Path, timeout_s: float,
        swarm: dict[str, Any] | None = None) -> tuple[DiscoveryResult, list[str]]:
    """Lab DHT up, keyword list in, discovery until the flagged torrent is watched; down.

    With the lab ``swarm``'s info, the lab DHT is merged with the swarm's DHT, so the swarm's
    own torrents are stored in it as soon as its peers next announce them.
    """
    swarm = swarm or {}
    swarm_v1 = [t["v1"] for t in swarm.get("torrents", []) if t.get("v1")]
    try:
        info = lab_dht.up(lab_dir, nodes=100, hashes=1000, net=DHT_NET,
                          join=swarm.get("dht_bootstrap", ""))
    except LabProcessError as exc:
        raise StepFailed(f"lab DHT did not start: {exc}") from exc
    try:
        keywords = HashList(info["keyword_list"], "keyword", "lab", tuple(info["keywords"]))
        lines = import_lists(settings, lists_dir, [keywords])
        result = asyncio.run(_run(discovery_settings(settings, info["router"]), info,
                                  timeout_s, swarm_v1))
    finally:
        lab_dht.down(lab_dir)
    return result, lines


def lines(result: DiscoveryResult) -> list[str]:
    r, t = result.rates, result.torrent
    out = [f"discovery: {r['distinct']} distinct infohashes from {r['nodes_known']} DHT nodes "
           f"({r['samples_per_s']} samples/s, {r['new_per_min']} new/min, metadata "
           f"{r['metadata_per_min']}/min)",
           f"torrent {t.get('name')!r} {t.get('infohash')}: found by "
           f"{', '.join(f['method'] + ' from ' + f['node'] for f in t.get('found_by', []))}",
           "  matched " + ", ".join(f"{m['list']} {m['value']!r} in {m['field']}"
                                    for m in t.get("matches", []))
           + f"; watched after {result.seconds} s"]
    for ip, port, client, level in result.peers:
        out.append(f"  peer {ip}:{port} {client or '?'} L{level}")
    if result.swarm_total:
        out.append(f"lab swarm torrents found in the lab DHT, metadata fetched: "
                   f"{len(result.swarm_fetched)} of {result.swarm_total}")
    out.append(f"payload {'0 bytes both ways' if result.payload_ok else 'MOVED (see log)'}")
    return out
