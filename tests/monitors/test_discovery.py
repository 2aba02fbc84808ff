"""Discovery on the lab DHT: BEP 51 sampling, metadata without payload, keyword lists, watching."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from config import Settings, load_settings
from heroes.cli import main
from heroes.lab import swarm as lab_swarm_mod
from heroes.roles import run_roles
from index.store import Store
from monitors.discovery import METHOD, Discoverer, SeenFilter
from monitors.probe import Probe
from tests.monitors.conftest import LAB_DHT

pytestmark = pytest.mark.swarm


def test_seen_filter_remembers_and_rarely_confuses() -> None:
    seen = SeenFilter(10_000)
    values = [f"{i:040x}" for i in range(10_000)]
    assert all(seen.add(v) for v in values)
    assert not any(seen.add(v) for v in values)
    others = sum(not seen.add(f"{i:040x}") for i in range(10_000, 20_000))
    assert others < 50  # 0.1 % designed, well under 0.5 % seen


@pytest.fixture
def lab(lab_dht_world: dict[str, Any]) -> dict[str, Any]:
    return lab_dht_world


def discover_settings(data: Path, info: dict[str, Any]) -> Settings:
    return load_settings(None, overrides={"data_dir": str(data), "probe": {
        "listen_ip": "127.0.0.82", "dht_bootstrap_nodes": [info["router"]], **LAB_DHT,
        "announce": False, "pex": False, "peer_poll_s": 0.2, "index_refresh_s": 1.0,
        "dht_revisit_s": 2.0, "metadata_timeout_s": 3.0,
        # Most lab infohashes name peers that are not there: many fetches at once.
        "discovery": {"listen_interfaces": "127.0.0.83:0", "rate_per_s": 50.0,
                      "node_gap_s": 1.0, "metadata_batch": 100}}})


async def test_discovery_finds_classifies_and_watches(lab: dict[str, Any], tmp_path: Path,
                                                      record_property: Any) -> None:
    data = tmp_path / "data"
    keywords = tmp_path / f"{lab['keyword_list']}.txt"
    keywords.write_text("# neutral lab words\n" + "\n".join(lab["keywords"]) + "\n")
    result = CliRunner().invoke(main, ["--data-dir", str(data), "hashes", "import",
                                       str(keywords), "--type", "keyword"])
    assert result.exit_code == 0, result.output
    settings = discover_settings(data, lab)
    store = Store(settings)
    hit = next(t for t in lab["torrents"] if "lighthouse" in t["keywords"])
    plain = [t for t in lab["torrents"] if not t["keywords"]]
    seed_ip = lab["seed"].split(":")[0]
    stored = set(lab["stored"]) | {t["infohash"] for t in lab["torrents"]}
    swarm_v1 = {t["v1"] for t in lab["swarm"]["torrents"]}
    discoverer = Discoverer(settings, store, keep_found=True)
    probe = Probe(settings, store, use_index=True)
    stop = asyncio.Event()
    started = time.monotonic()
    marks: dict[str, float] = {}

    def fetched() -> int:
        return sum(t["infohash"] in discoverer.fetcher.done for t in lab["torrents"])

    def swarm_fetched() -> bool:
        return swarm_v1 <= discoverer.fetcher.done

    def seen_peer() -> bool:
        return any(k == hit["infohash"] and ip == seed_ip and r.level >= 1
                   for (k, ip, _), r in probe.recorder.peers.items())

    async def watch() -> None:
        deadline = started + 180
        while time.monotonic() < deadline:
            got = len(stored & _distinct(discoverer))
            if got >= 0.9 * len(stored):
                marks.setdefault("ninety", time.monotonic() - started)
            if hit["infohash"] in probe.watcher.targets:
                marks.setdefault("watched", time.monotonic() - started)
            if seen_peer() and "ninety" in marks and fetched() >= len(lab["torrents"]) \
                    and swarm_fetched():
                break
            await asyncio.sleep(0.2)
        stop.set()

    try:
        watcher = asyncio.create_task(watch())
        await run_roles([store.drain_role(), probe, discoverer], stop, signals=False)
        await watcher
    finally:
        store.close()
    snap = discoverer.snapshot()
    fraction = len(stored & _distinct(discoverer)) / len(stored)
    record_property("discovery_fraction", round(fraction, 3))
    record_property("discovery_times_s", marks)
    print(f"discovery: {fraction:.1%} of {len(stored)} stored in "
          f"{marks.get('ninety', float('nan')):.1f}s; keyword torrent watched at "
          f"{marks.get('watched', float('nan')):.1f}s; {snap}")
    assert fraction >= 0.9, snap
    assert "watched" in marks, snap
    assert seen_peer(), "the flagged torrent's seed was not observed"
    # Metadata of every generated torrent, without one payload byte either way.
    assert fetched() == len(lab["torrents"]), snap
    # The lab swarm's torrents are stored in the lab DHT too: sampled, and fetched from the
    # swarm's own seeds, which sent no payload to the discoverer or the probe.
    assert all(lab["joined"].values()), lab["joined"]
    assert swarm_v1 <= _distinct(discoverer), snap
    assert swarm_fetched(), snap
    assert snap["payload"]["recv_payload_bytes"] == 0 == snap["payload"]["sent_payload_bytes"]
    assert probe.summary.payload_ok
    assert lab_swarm_mod.payload_with(Path(lab["swarm"]["run_dir"]), {"127.0.0.82"}) == {
        "swarm_received": 0, "swarm_sent": 0}
    # The index: found_by on every discovered torrent, flagged by the keyword list only.
    async with Store(settings).reader() as backend:
        docs = await backend.get("torrent", [_doc_id(h) for h in [
            *(t["infohash"] for t in lab["torrents"]), *swarm_v1]])
    by_ih = {d["infohash"]: d for d in docs.values()}
    for t in lab["swarm"]["torrents"]:
        doc = by_ih[t["v1"]]
        assert doc["name"] == t["name"] == "labcontent" and doc["metadata_at"], doc
        assert doc["found_by"][0]["method"] == METHOD
        assert sorted((f["path"], f["size"]) for f in doc["files"]) == sorted(
            (f["path"], f["size"]) for f in t["files"])
    flagged = by_ih[hit["infohash"]]
    assert flagged["flagged"] and flagged["name"] == hit["name"]
    assert {m["type"] for m in flagged["matches"]} == {"keyword"}
    assert flagged["found_by"][0]["method"] == METHOD and flagged["found_by"][0]["node"]
    for t in plain:
        assert not by_ih[t["infohash"]].get("flagged"), t
        assert t["infohash"] not in probe.watcher.targets


def _distinct(discoverer: Discoverer) -> set[str]:
    assert discoverer.found is not None
    return discoverer.found


def _doc_id(infohash: str) -> str:
    from documents import document_id

    return document_id("torrent", [infohash])


def test_discover_command_and_status(lab: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "heroes.toml"
    config.write_text(
        f"[probe]\nprobe_id = \"disc-1\"\nlisten_ip = \"127.0.0.84\"\n"
        f"dht_bootstrap_nodes = [\"{lab['router']}\"]\n"
        + "".join(f"{k} = false\n" for k in LAB_DHT)
        + "[probe.discovery]\nlisten_interfaces = \"127.0.0.85:0\"\nrate_per_s = 200.0\n"
        "node_gap_s = 0.25\n")
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "--data-dir", str(data), "probe",
                                  "discover", "--for", "6", "--json", "--every", "1"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["distinct"] > 1000 and last["samples_per_s"] > 0, last
    assert {"new_per_min", "metadata_per_min", "backlog"} <= set(last)
    result = runner.invoke(main, ["--config", str(config), "--data-dir", str(data), "probe",
                                  "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)["disc-1"]["discover"]
    assert status["distinct"] == last["distinct"]
    text = runner.invoke(main, ["--config", str(config), "--data-dir", str(data), "probe",
                                "status"]).output
    assert "disc-1 discover" in text and "samples" in text
