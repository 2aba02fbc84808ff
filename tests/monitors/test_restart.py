"""A probe killed with SIGKILL resumes its targets and keeps every observation it reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evidence.check import verify_file
from heroes.lab import swarm
from index.spool import Spool
from monitors.evidence import log_path

pytestmark = pytest.mark.swarm


def start_probe(config: Path, data: Path, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "heroes.cli", "--config", str(config), "--data-dir", str(data),
            "probe", "--no-index", "--no-drain", "--json", "--every", "0.5", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)


def spool_rows(data: Path) -> dict[int, str]:
    spool = Spool(data / "spool.sqlite")
    try:
        return {d.seq: json.dumps(d.body, sort_keys=True) for d in spool.peek(100_000)
                if d.kind == "observation"}
    finally:
        spool.close()


def wait_for(cond: Any, proc: subprocess.Popen[str], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    out = proc.communicate()[0]
    pytest.fail(f"probe: {what} not reached in {timeout:.0f}s; its output:\n{out[-4000:]}")


def test_probe_resumes_after_sigkill(lab_swarm: dict[str, Any], tmp_path: Path) -> None:
    config = tmp_path / "heroes.toml"
    config.write_text(
        "[probe]\nlisten_ip = \"127.0.0.54\"\nannounce = false\npex = false\n"
        f"dht_bootstrap_nodes = [\"{lab_swarm['dht_bootstrap']}\"]\n"
        "dht_revisit_s = 2.0\npeer_poll_s = 0.2\n"
        "dht_restrict_routing_ips = false\ndht_restrict_search_ips = false\n"
        "dht_prefer_verified_node_ids = false\ndht_ignore_dark_internet = false\n")
    data = tmp_path / "data"
    v1 = lab_swarm["torrents"][0]["v1"]
    proc = start_probe(config, data, "--hash", lab_swarm["torrents"][0]["magnet"])
    peers = {p.ip for p in swarm.PEERS}

    def seen_all() -> bool:
        rows = spool_rows(data) if (data / "spool.sqlite").exists() else {}
        ips = {json.loads(r)["ip"] for r in rows.values() if json.loads(r)["level"] >= 1}
        return peers <= ips

    wait_for(seen_all, proc, "all lab peers in the spool")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    before = spool_rows(data)
    chain = log_path(data, "probe-1")
    chain_before = chain.read_bytes()
    assert verify_file(chain) is None

    # No --hash this time: the target comes back from the saved state.
    proc = start_probe(config, data, "--duration", "60")
    lines: list[dict[str, Any]] = []

    def resumed() -> bool:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.startswith("{"):
            lines.append(json.loads(line))
        return bool(lines) and lines[-1].get("targets") == 1 and lines[-1]["peers"] >= 5
    wait_for(resumed, proc, "the saved target watched again with its peers")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    after = spool_rows(data)
    assert before.items() <= after.items()  # nothing reported before the kill was lost
    assert chain.read_bytes().startswith(chain_before)
    assert verify_file(chain) is None
    state = json.loads((data / "probe" / "probe-1" / "state.json").read_text())
    assert list(state["targets"]) == [v1] and state["targets"][v1]["last_seen"]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["payload_ok"] and summary["targets"] == 1
