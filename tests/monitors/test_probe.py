"""The probe against the live lab swarm: discovery by tracker, DHT and PEX, levels, no payload."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest

from documents import Observation, Torrent
from evidence.check import verify_file
from heroes.lab import swarm
from index.spool import Spool
from monitors.evidence import log_path
from monitors.lt_settings import base_settings
from monitors.probe import Probe
from tests.monitors.conftest import LAB_IPS, lab_peers_at, lab_targets, probe_settings, run_probe

pytestmark = pytest.mark.swarm


def spooled(data_dir: Path, kind: str) -> list[dict[str, Any]]:
    spool = Spool(data_dir / "spool.sqlite")
    try:
        return [d.body for d in spool.peek(100_000) if d.kind == kind]
    finally:
        spool.close()


def check_lab_peers(probe: Probe, info: dict[str, Any], source: str,
                    dialled: frozenset[str] = frozenset()) -> None:
    """Every lab peer of both torrents, with its client, fraction and level, via ``source``."""
    status = {s.name: swarm._read_status(Path(info["run_dir"]), s.name) for s in swarm.PEERS}
    for torrent in info["torrents"]:
        key = torrent["v1"]
        for spec in swarm.PEERS:
            rec = probe.recorder.peers[(key, spec.ip, swarm.PEER_PORT)]
            if spec.ip not in dialled:
                assert source in rec.sources, (spec.name, rec.sources)
            assert rec.ext_v == spec.user_agent
            assert rec.client.split()[0] == spec.user_agent.split("/")[0].split()[0]
            assert rec.peer_id.startswith(spec.fingerprint.encode().hex())
            truth = status[spec.name]["torrents"][key]["fraction"]
            if spec.role == "leecher":
                assert rec.level >= 1
                if rec.have_fraction is not None:
                    assert rec.have_fraction <= truth + 1e-6
            else:
                assert rec.level == 2
                assert rec.have_fraction == pytest.approx(truth, abs=1e-6), spec.name
                if spec.role == "seed":
                    assert rec.have_fraction == 1.0
                else:
                    assert 0 < rec.have_fraction < 1


def check_no_payload(probe: Probe, info: dict[str, Any], ip: str) -> None:
    s = probe.summary
    assert s.payload_ok
    for counters in (s.watcher_payload, s.metadata_payload):
        assert counters["recv_payload_bytes"] == 0
        assert counters["sent_payload_bytes"] == 0
    assert s.watcher_payload["recv_bytes"] > 0  # it did talk to the swarm
    assert swarm.payload_with(Path(info["run_dir"]), {ip}) == {"swarm_received": 0,
                                                               "swarm_sent": 0}


def only_source(probe: Probe, source: str) -> None:
    for (_, ip, _), rec in probe.recorder.peers.items():
        if ip in LAB_IPS:
            assert rec.sources <= {source, "incoming"} or rec.sources == set(), (ip, rec.sources)


async def test_tracker_only(lab_swarm: dict[str, Any], tmp_path: Path) -> None:
    ip = "127.0.0.50"
    settings = probe_settings(tmp_path, lab_swarm, listen_ip=ip, announce=True, dht=False,
                              pex=False)
    keys = [t["v1"] for t in lab_swarm["torrents"]]
    probe = await run_probe(settings, targets=lab_targets(lab_swarm),
                            done=lambda p: all(lab_peers_at(p, k, 2) for k in keys))
    only_source(probe, "tracker")
    check_lab_peers(probe, lab_swarm, "tracker")
    check_no_payload(probe, lab_swarm, ip)


async def test_dht_only_and_unanswered_address_stays_l0(lab_swarm: dict[str, Any],
                                                        tmp_path: Path) -> None:
    # A DHT node announces an address where nobody listens: the probe must not promote it.
    liar = lt.session({**base_settings("127.0.0.9", 0, dht=True,
                                       bootstrap=[lab_swarm["dht_bootstrap"]]),
                       "dht_block_ratelimit": 100_000}, 0)
    v1 = lab_swarm["torrents"][0]["v1"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and liar.status().dht_nodes == 0:
        liar.wait_for_alert(100)
        liar.pop_alerts()
    liar.dht_announce(lt.sha1_hash(bytes.fromhex(v1)), 9, 0)
    ip = "127.0.0.51"
    settings = probe_settings(tmp_path, lab_swarm, listen_ip=ip, announce=False, dht=True,
                              pex=False)
    keys = [t["v1"] for t in lab_swarm["torrents"]]
    probe = await run_probe(
        settings, targets=lab_targets(lab_swarm), timeout=60,
        done=lambda p: all(lab_peers_at(p, k, 2) for k in keys)
        and (v1, "127.0.0.9", 9) in p.recorder.peers)
    del liar
    only_source(probe, "dht")
    check_lab_peers(probe, lab_swarm, "dht")
    ghost = probe.recorder.peers[(v1, "127.0.0.9", 9)]
    assert ghost.level == 0 and ghost.sources == {"dht"} and not ghost.ext_v
    check_no_payload(probe, lab_swarm, ip)
    docs = [Observation.model_validate(b) for b in spooled(tmp_path, "observation")]
    assert max(d.level for d in docs if d.ip == "127.0.0.9") == 0


async def test_pex_only(lab_swarm: dict[str, Any], tmp_path: Path) -> None:
    ip = "127.0.0.52"
    settings = probe_settings(tmp_path, lab_swarm, listen_ip=ip, announce=False, dht=False,
                              pex=True)
    keys = [t["v1"] for t in lab_swarm["torrents"]]
    first = swarm.PEERS[0]
    probe = await run_probe(settings, targets=lab_targets(lab_swarm), timeout=90,
                            seed_peers=[(first.ip, swarm.PEER_PORT)],
                            done=lambda p: all(lab_peers_at(p, k, 2) for k in keys))
    only_source(probe, "pex")
    # The first peer was dialled by hand; PEX named the others.
    check_lab_peers(probe, lab_swarm, "pex", dialled=frozenset({first.ip}))
    check_no_payload(probe, lab_swarm, ip)


async def test_metadata_and_observations_reach_spool_and_evidence(lab_swarm: dict[str, Any],
                                                                  tmp_path: Path) -> None:
    ip = "127.0.0.53"
    settings = probe_settings(tmp_path, lab_swarm, listen_ip=ip, announce=True, dht=True,
                              pex=True)
    keys = [t["v1"] for t in lab_swarm["torrents"]]
    probe = await run_probe(settings, targets=lab_targets(lab_swarm),
                            done=lambda p: p.fetcher.fetched == 2
                            and all(lab_peers_at(p, k, 2) for k in keys))
    check_no_payload(probe, lab_swarm, ip)
    torrents = {b["infohash"]: Torrent.model_validate(b) for b in spooled(tmp_path, "torrent")}
    for t in lab_swarm["torrents"]:
        doc = torrents[t["v1"]]
        assert doc.infohash_v2 == t["v2"]
        assert doc.name == "labcontent" and doc.num_pieces == t["num_pieces"]
        assert sorted((f.path, f.size) for f in doc.files) == sorted(
            (f["path"], f["size"]) for f in t["files"])
        assert doc.metadata_at is not None
    assert torrents[lab_swarm["torrents"][1]["v1"]].infohash_v2  # the hybrid has both hashes
    docs = [Observation.model_validate(b) for b in spooled(tmp_path, "observation")]
    assert docs and all(d.chain_hash and d.probe_id == "probe-1" for d in docs)
    assert {d.ip for d in docs} >= LAB_IPS
    hybrid = [d for d in docs if d.infohash == lab_swarm["torrents"][1]["v1"]]
    assert hybrid and all(d.infohash_v2 == lab_swarm["torrents"][1]["v2"] for d in hybrid)
    chain = log_path(tmp_path, "probe-1")
    assert verify_file(chain) is None
    assert sum(1 for _ in chain.open()) == len(docs)


async def test_connection_budget_caps_every_handle_and_follows_the_targets(
        lab_swarm: dict[str, Any], tmp_path: Path) -> None:
    from monitors.budget import per_torrent_cap
    from monitors.targets import parse_target

    ip = "127.0.0.54"
    settings = probe_settings(tmp_path, lab_swarm, listen_ip=ip, announce=True, dht=False,
                              pex=False, metadata=False, max_connections=12)
    # Three swarms nobody shares besides the two lab ones: five targets, 12 // 5 = 2 each.
    extra = [parse_target(f"{n:040x}") for n in range(1, 4)]
    keys = [t["v1"] for t in lab_swarm["torrents"]]
    seen: dict[str, Any] = {}

    def handshaken(probe: Probe, key: str) -> bool:
        return any(k == key and peer_ip in LAB_IPS and r.level >= 1
                   for (k, peer_ip, _), r in probe.recorder.peers.items())

    def caps(probe: Probe) -> set[int]:
        return {h.max_connections() for h in probe.watcher.handles.values()}

    async def during(probe: Probe) -> None:
        if "five" not in seen and len(probe.watcher.handles) == 5 and caps(probe) == {2} \
                and all(handshaken(probe, k) for k in keys):
            seen["five"] = {k: h.max_connections() for k, h in probe.watcher.handles.items()}
            seen["peers_at_two"] = {k: len(h.get_peer_info())
                                    for k, h in probe.watcher.handles.items()}
            for t in extra:
                probe.watcher.remove(t.key)

    probe = await run_probe(settings, targets=[*lab_targets(lab_swarm), *extra], during=during,
                            timeout=60,
                            done=lambda p: "five" in seen and len(p.watcher.handles) == 2
                            and caps(p) == {per_torrent_cap(12, 2)})
    assert set(seen["five"].values()) == {per_torrent_cap(12, 5)} == {2}
    # Five lab peers, but no swarm held more than its share.
    assert max(seen["peers_at_two"].values()) <= 2
    assert probe.watcher.connection_cap == 6
    check_no_payload(probe, lab_swarm, ip)
