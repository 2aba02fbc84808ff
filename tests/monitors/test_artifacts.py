"""Raw protocol artifacts on the live lab swarm: every L1/L2 observation carries the peer's own
messages (handshake, extended handshake, bitfield/HAVE summaries), hashed into its record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest

from evidence.sealedlog import SealedLog
from heroes.lab import swarm
from monitors.artifacts import canonical_sha256
from monitors.evidence import log_path
from monitors.lt_settings import base_settings
from monitors.torrent_params import add_params
from tests.monitors.conftest import lab_peers_at, lab_targets, probe_settings, run_probe
from tests.monitors.test_probe import check_no_payload, spooled

pytestmark = pytest.mark.swarm

SPECS = {p.ip: p for p in swarm.PEERS}


async def test_observations_carry_the_messages_behind_their_level(
        lab_swarm: dict[str, Any], tmp_path: Path) -> None:
    ip = "127.0.0.60"
    settings = probe_settings(tmp_path, lab_swarm, listen_ip=ip, announce=True, dht=False,
                              pex=False)
    keys = [t["v1"] for t in lab_swarm["torrents"]]
    probe = await run_probe(settings, targets=lab_targets(lab_swarm),
                            done=lambda p: all(lab_peers_at(p, k, 2) for k in keys))
    check_no_payload(probe, lab_swarm, ip)

    path = log_path(tmp_path, settings.probe.probe_id)
    records = [r["data"] for r in SealedLog(path, "probe").records()]
    lab = [d for d in records if d["ip"] in SPECS and d["port"] == swarm.PEER_PORT]
    assert {d["level"] for d in lab} >= {1, 2}
    seen_l2: set[tuple[str, str]] = set()
    for data in lab:
        assert data["clock"]["source"] == data["clock_source"] != ""
        if data["level"] == 0:
            assert "artifacts" not in data and data["artifacts_sha256"] == ""
            continue
        spec = SPECS[data["ip"]]
        art = data["artifacts"]
        assert data["artifacts_sha256"] == canonical_sha256(art)
        hs = art["handshake"]
        assert hs["protocol"] == "BitTorrent protocol"
        assert hs["peer_id"] == data["peer_id"]
        assert hs["peer_id"].startswith(spec.fingerprint.encode().hex()), (spec.name, hs)
        assert hs["peer_id_ascii"].startswith(spec.fingerprint)
        assert hs["info_hash"] == data["infohash"]
        assert len(hs["reserved"]) == 16 and int(hs["reserved"], 16) & 0x100000  # BEP 10 bit
        assert hs["at"] <= data["last_seen"]
        ext = art["ext_handshake"]
        assert ext["fields"]["v"] == spec.user_agent
        assert f"'v': '{spec.user_agent}'" in ext["printed"]
        if data["level"] == 2:
            pieces = art["pieces"]
            if spec.role == "seed":
                assert "have_all" in art and pieces["fraction"] == 1.0
            elif spec.role == "partial":
                assert art["bitfield"]["count"] >= 1
                assert art["bitfield"]["at"] >= hs["at"]
            # Before the piece count is known (metadata) neither fraction can be worked out.
            if data["have_fraction"] is None:
                assert pieces["fraction"] is None
                continue
            seen_l2.add((data["infohash"], data["ip"]))
            assert pieces["fraction"] == pytest.approx(data["have_fraction"], abs=1e-6)
            if spec.role == "partial":
                assert 0 < pieces["fraction"] < 1
                # The fraction follows from the bitfield as received.
                assert pieces["fraction"] == pytest.approx(
                    art["bitfield"]["count"] / pieces["num_pieces"], abs=1e-6)
    wanted = {(k, s.ip) for k in keys for s in swarm.PEERS if s.role != "leecher"}
    assert wanted <= seen_l2
    # Peers that dialled the probe (from another port) carry their handshake as well, though
    # their first messages came before the connection named its torrent.
    incoming = [d for d in records if d["ip"] in SPECS and d["port"] != swarm.PEER_PORT
                and d["level"] >= 1]
    for data in incoming:
        hs = data["artifacts"]["handshake"]
        assert hs["protocol"] == "BitTorrent protocol", data["artifacts"]
        assert hs["peer_id"].startswith(SPECS[data["ip"]].fingerprint.encode().hex())

    # The index documents carry the hash of the artifacts their evidence record holds.
    by_hash = {d["artifacts_sha256"] for d in lab if d["artifacts_sha256"]}
    docs = [d for d in spooled(tmp_path, "observation") if d["ip"] in SPECS]
    assert docs and {d["artifacts_sha256"] for d in docs if d["level"] >= 1} <= by_hash
    assert all(d["artifacts_sha256"] for d in docs if d["level"] >= 1)



async def test_a_peer_that_dials_the_probe_is_recorded_with_its_messages(
        lab_swarm: dict[str, Any], tmp_path: Path) -> None:
    # Its first messages arrive before the connection names a torrent (by the infohash it
    # sends): they must still be part of the record.
    ip, dialler_ip = "127.0.0.61", "127.0.0.62"
    settings = probe_settings(tmp_path, lab_swarm, listen_ip=ip, announce=False, dht=False,
                              pex=False, metadata=False)
    target = lab_targets(lab_swarm)[0]
    dialler = lt.session(base_settings(dialler_ip, 0, dht=False, bootstrap=[],
                                       fingerprint="-DL0100-", user_agent="Dialler/1.0"), 0)
    params = add_params(target, str(tmp_path / "dialler"))
    params.flags = lt.torrent_flags.upload_mode | lt.torrent_flags.default_dont_download
    handle = dialler.add_torrent(params)
    dialled = False

    async def dial(probe: Any) -> None:
        nonlocal dialled
        if not dialled and probe.watcher.handles:
            handle.connect_peer((ip, probe.watcher.listen_port), 0)
            dialled = True

    def seen(probe: Any) -> bool:
        return any(k[1] == dialler_ip and r.level >= 1 for k, r in probe.recorder.peers.items())

    probe = await run_probe(settings, targets=[target], done=seen, during=dial, timeout=30)
    path = log_path(tmp_path, settings.probe.probe_id)
    records = [r["data"] for r in SealedLog(path, "probe").records()
               if r["data"]["ip"] == dialler_ip and r["data"]["level"] >= 1]
    assert records, probe.recorder.peers
    art = records[-1]["artifacts"]
    hs = art["handshake"]
    assert hs["protocol"] == "BitTorrent protocol" and "reserved" in hs
    assert hs["peer_id"].startswith(b"-DL0100-".hex())
    assert hs["info_hash"] == target.v1
    assert art["ext_handshake"]["fields"]["v"] == "Dialler/1.0"
    assert "incoming" in records[-1]["sources"]
