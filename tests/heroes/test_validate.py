"""``heroes validate``: the comparisons and exit codes (unit), and a real run on the lab world
whose signed report must match the ground truth (live: Tor network and swarm)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evidence.keys import init_key, load_public_key
from heroes.validation import (
    REPORT,
    SIGNATURE,
    Check,
    ExpectedPeer,
    build_report,
    compare_entities,
    compare_media,
    compare_payload,
    compare_peers,
    exit_code,
    render_text,
    verify_report,
    write_report,
)

ROOT = Path(__file__).resolve().parents[2]
IH = "ab" * 20
SEED = ExpectedPeer("p2", "127.0.0.2", 6881, "seed", "-qB4630-", "qBittorrent/4.6.3",
                    {IH: 1.0})
LEECH = ExpectedPeer("p6", "127.0.0.6", 6881, "leecher", "-BI3500-", "BiglyBT/3.5.0.0")


def _seen(peer: ExpectedPeer, **change: Any) -> dict[str, Any]:
    return {"level": 2, "ext_v": peer.user_agent, "have_fraction": 1.0, "artifacts": True,
            "peer_id": peer.fingerprint.encode().hex() + "00" * 12, **change}


def _report(checks: list[Check]) -> dict[str, Any]:
    return build_report(checks, started="2026-12-01T12:00:00+00:00",
                        ended="2026-12-01T12:05:00+00:00", versions={"heroes": "0"},
                        config_hash="0" * 64, lab={}, key_id="k")


def test_peers_matching_and_mismatching() -> None:
    good = compare_peers([SEED, LEECH], [IH], {(IH, SEED.ip, 6881): _seen(SEED),
                                               (IH, LEECH.ip, 6881): _seen(LEECH, level=1,
                                                                           have_fraction=None)})
    assert [c.ok for c in good] == [True, True]
    bad = compare_peers([SEED, LEECH], [IH], {
        (IH, SEED.ip, 6881): _seen(SEED, ext_v="libtorrent", have_fraction=0.5,
                                   artifacts=False)})
    assert [c.ok for c in bad] == [False, False]
    assert "client 'libtorrent'" in bad[0].detail and "have_fraction 0.5" in bad[0].detail
    assert "no protocol artifacts" in bad[0].detail
    assert bad[1].detail == "never seen"


def test_payload_entities_media() -> None:
    zero = {"watcher": {"recv_payload_bytes": 0, "sent_payload_bytes": 0, "recv_bytes": 900}}
    assert compare_payload(zero, {"swarm_received": 0, "swarm_sent": 0}).ok
    moved = compare_payload(zero, {"swarm_received": 0, "swarm_sent": 16384})
    assert not moved.ok and "swarm.swarm_sent" in moved.detail
    ents = compare_entities({"btc": ["a", "b"], "emails": []}, {"btc": {"a", "c"}})
    assert [(c.name, c.ok) for c in ents] == [("entities btc", False), ("entities emails", True)]
    assert "missing ['b']" in ents[0].detail and "not planted ['c']" in ents[0].detail
    truth = {"u": {"md5": "1", "sha256": "2"}}
    ok = compare_media(truth, {"u": {"md5": "1", "sha256": "2"}}, [], 10)
    assert all(c.ok for c in ok)
    bad = compare_media(truth, {"u": {"md5": "x", "sha256": "2"}}, ["/data/x.bin"], 10)
    assert [c.ok for c in bad] == [False, False]


def test_media_scan_skips_lab_site_files(tmp_path: Path) -> None:
    from heroes.validation_run import scan_for_media

    blob = bytes(range(256)) * 8
    other_lab = tmp_path / "other-lab"
    (other_lab / "sites" / "market").mkdir(parents=True)
    (other_lab / "ground_truth.json").write_text("{}")
    (other_lab / "sites" / "market" / "a.png").write_bytes(blob)  # a lab's own file
    data = tmp_path / "data"
    data.mkdir()
    (data / "clean.bin").write_bytes(b"nothing")
    (data / "spool.gz").write_bytes(gzip.compress(b"x" + blob))
    hits, scanned = scan_for_media([tmp_path], [blob], 0.0, tmp_path / "own-lab")
    assert hits == [str(data / "spool.gz")] and scanned == 2


def test_a_mismatch_is_reported_and_exits_1(tmp_path: Path) -> None:
    checks = [Check("payload bytes, both directions", True, 0, {}),
              Check("entities btc", False, 3, 2, "missing ['x']")]
    report = _report(checks)
    assert report["ok"] is False and report["summary"]["failed"] == ["entities btc"]
    assert exit_code(report) == 1
    text = render_text(report)
    assert "MISMATCH (1/2 checks)" in text and "FAIL entities btc: missing ['x']" in text
    assert exit_code(_report(checks[:1])) == 0
    assert exit_code(_report([])) == 1  # nothing checked is not a pass


def test_report_signature(tmp_path: Path) -> None:
    key = init_key(tmp_path / "key.pem", tmp_path / "data")
    out = tmp_path / "out"
    write_report(_report([Check("x", True, 1, 1)]), key, out)
    assert verify_report(out, key.public)
    other = init_key(tmp_path / "other.pem", tmp_path / "data2")
    assert not verify_report(out, other.public)
    body = json.loads((out / REPORT).read_bytes())
    body["ok"] = not body["ok"]
    (out / REPORT).write_text(json.dumps(body))
    assert not verify_report(out, key.public)


def test_cli_exit_1_on_mismatch_and_2_without_key(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from heroes import validation_run
    from heroes.cli import main

    key_file = tmp_path / "key.pem"
    data = tmp_path / "data"
    env = {"HEROES_EVIDENCE__SIGNING_KEY_FILE": str(key_file), "HEROES_DATA_DIR": str(data)}
    runner = CliRunner()
    done = runner.invoke(main, ["validate", "--out", str(tmp_path / "o1")], env=env)
    assert done.exit_code == 2 and "heroes keys init" in done.output
    key = init_key(key_file, data)
    bad = _report([Check("peer p2 127.0.0.2:6881 on " + IH, False, {}, None, "never seen")])
    monkeypatch.setattr(validation_run, "run", lambda *a, **k: bad)
    done = runner.invoke(main, ["validate", "--out", str(tmp_path / "o2")], env=env)
    assert done.exit_code == 1, done.output
    assert "MISMATCH" in done.output and "never seen" in done.output
    assert verify_report(tmp_path / "o2", key.public)


@pytest.mark.tor
@pytest.mark.swarm
def test_validate_on_the_lab_world(tmp_path: Path) -> None:
    if os.environ.get("HEROES_IN_NETNS") != "1":
        pytest.skip("live lab tests run inside scripts/loopback-only.sh")
    key_file = tmp_path / "keys" / "signing.pem"
    key = init_key(key_file, tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    env.update({"HEROES_IN_NETNS": "1", "HEROES_EVIDENCE__SIGNING_KEY_FILE": str(key_file)})
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "heroes.cli", "--data-dir", str(tmp_path / "data"), "validate",
         "--out", str(out), "--base-port", "21000"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert "ALL MATCHED" in done.stdout
    report = json.loads((out / REPORT).read_bytes())
    assert report["ok"] is True and report["key_id"] == key.key_id
    names = [c["name"] for c in report["checks"]]
    assert sum(n.startswith("peer ") for n in names) == 10  # 5 lab peers x 2 torrents
    for wanted in ("crawl finished", "payload bytes, both directions", "media hashes",
                   "media bytes never written", "entities btc"):
        assert wanted in names
    assert all(c["ok"] for c in report["checks"])
    assert set(report["versions"]) >= {"heroes", "libtorrent", "tor"}
    assert len(report["config_hash"]) == 64
    # The signature holds with the installation's key, checked by us and by openssl.
    assert verify_report(out, load_public_key((out / "validation.pub.pem").read_bytes()))
    assert verify_report(out, key.public)
    if shutil.which("openssl"):
        check = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(out / "validation.pub.pem"),
             "-rawin", "-in", str(out / REPORT), "-sigfile", str(out / SIGNATURE)],
            capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    # No lab process outlives the run.
    assert "lab world down" in done.stderr
