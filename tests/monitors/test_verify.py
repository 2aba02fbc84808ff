"""``heroes probe verify``: single-source download of a few pieces, level 3, bytes discarded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest
from click.testing import CliRunner

from documents import Observation
from evidence.check import verify_file
from evidence.sealedlog import SealedLog
from heroes.cli import main
from heroes.lab import swarm
from monitors.evidence import log_path
from tests.monitors.test_probe import spooled

pytestmark = pytest.mark.swarm

VERIFY_IP = "127.0.0.60"


def run_verify(data_dir: Path, *args: str) -> Any:
    env = {"HEROES_PROBE__LISTEN_IP": VERIFY_IP}
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), "probe", "verify", *args],
                              env=env, catch_exceptions=False)


def test_verify_downloads_from_the_named_peer_only(lab_swarm: dict[str, Any],
                                                   tmp_path: Path) -> None:
    torrent = lab_swarm["torrents"][0]  # v1
    peer = next(p for p in swarm.PEERS if p.role == "partial")
    others = {p.ip for p in swarm.PEERS} - {peer.ip}
    result = run_verify(tmp_path, torrent["v1"], "--peer", f"{peer.ip}:{swarm.PEER_PORT}",
                        "--pieces", "3")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["level"] == 3 and out["work_dir_removed"]
    assert len(out["verified_pieces"]) == 3 and not out["hash_failed"]
    assert set(out["blocks_from"]) == {f"{peer.ip}:{swarm.PEER_PORT}"}
    assert out["payload_sent"] == 0 and out["payload_received"] > 0
    # The pieces are ones this partial peer really holds.
    have = swarm._read_status(Path(lab_swarm["run_dir"]), peer.name)
    assert have is not None
    docs = [Observation.model_validate(b) for b in spooled(tmp_path, "observation")]
    (doc,) = docs
    assert doc.level == 3 and doc.ip == peer.ip and doc.port == swarm.PEER_PORT
    assert doc.verified_pieces == sorted(out["verified_pieces"])
    assert doc.ext_v == peer.user_agent and doc.chain_hash == out["chain_hash"]
    (record,) = list(SealedLog(log_path(tmp_path, "probe-1"), "probe/probe-1").records())
    assert record["data"]["level"] == 3
    assert record["data"]["detail"]["verified_pieces"] == out["verified_pieces"]
    assert verify_file(log_path(tmp_path, "probe-1")) is None
    # Swarm side: no other peer sent the verifier anything.
    status = swarm.status(Path(lab_swarm["run_dir"]))
    for name, st in status["peers"].items():
        for row in st["connections"]:
            if row["ip"] == VERIFY_IP and name != peer.name:
                assert row["payload_up"] == 0 and row["payload_down"] == 0, (name, row)
    assert swarm.payload_with(Path(lab_swarm["run_dir"]), {VERIFY_IP})["swarm_received"] == 0
    assert others.isdisjoint({ep.split(":")[0] for ep in out["blocks_from"]})


def test_verify_keeps_pieces_only_when_asked(lab_swarm: dict[str, Any], tmp_path: Path) -> None:
    torrent = lab_swarm["torrents"][1]  # hybrid
    keep = tmp_path / "case-17"
    seed = swarm.PEERS[0]
    result = run_verify(tmp_path / "data", torrent["magnet"], "--peer",
                        f"{seed.ip}:{swarm.PEER_PORT}", "--pieces", "2", "--keep-to", str(keep))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["work_dir_removed"] and out["kept_to"] == str(keep)
    ti = lt.torrent_info(torrent["file"])
    kept = sorted(keep.iterdir())
    assert [p.name for p in kept] == sorted(f"piece-{i}.bin" for i in out["verified_pieces"])
    for i in out["verified_pieces"]:
        data = (keep / f"piece-{i}.bin").read_bytes()
        # v1 piece hashes cover the piece as stored (hybrids pad files to piece boundaries).
        assert hashlib.sha1(data).digest() == ti.hash_for_piece(i)
        assert hashlib.sha256(data).hexdigest() == out["piece_sha256"][str(i)]


def test_verify_rejects_a_bad_peer_argument(tmp_path: Path) -> None:
    result = run_verify(tmp_path, "ab" * 20, "--peer", "nowhere")
    assert result.exit_code == 2
    assert "--peer: expected IP:PORT, got 'nowhere'" in result.output


def test_verify_cannot_be_enabled_by_configuration() -> None:
    from config.sections.probe import ProbeSettings

    names = " ".join(ProbeSettings.model_fields).lower()
    assert "verify" not in names and "download" not in names
