"""``heroes lab up|status|down``: every lab process is recorded, running, and reaped again."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

from heroes.lab.processes import ProcessTable, is_alive, still_running

ROOT = Path(__file__).resolve().parents[3]
# Ports of this package's lab world; other packages' worlds use other bases.
BASE_PORT = 21000

pytestmark = [pytest.mark.tor, pytest.mark.swarm]


def heroes(lab_dir: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    env["HEROES_IN_NETNS"] = os.environ.get("HEROES_IN_NETNS", "")
    return subprocess.run(
        [sys.executable, "-m", "heroes.cli", "--data-dir", str(lab_dir.parent / "data"), "lab",
         *args, "--dir", str(lab_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_lab_up_status_down_records_and_reaps_every_process(tmp_path: Path) -> None:
    if os.environ.get("HEROES_IN_NETNS") != "1":
        pytest.skip("the lab runs inside scripts/loopback-only.sh (nothing may leave the host)")
    lab_dir = tmp_path / "lab"
    table = ProcessTable.of(lab_dir)
    try:
        up = heroes(lab_dir, "up", "--base-port", str(BASE_PORT))
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        world = json.loads(up.stdout)
        records = table.records()
        groups = {r.group for r in records}
        assert {"tor", "web", "swarm", "smtp"} <= groups, groups
        # 3 authorities, 4 relays, the onion host and the client; 5 peers and the trackers.
        assert len(table.records("tor")) == 9
        assert len(table.records("swarm")) >= 6
        assert all(r.alive() for r in records)

        # The sink the README promises: STARTTLS on the recorded port.
        port = world["smtp"]["port"]
        assert table.records("smtp")[0].ports == {"smtp": port}
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("starttls")

        status = heroes(lab_dir, "status")
        assert status.returncode == 0, status.stdout[-3000:] + status.stderr[-3000:]
        rows = json.loads(status.stdout)["processes"]
        assert {r["name"] for r in rows} == {r.name for r in records}
        assert all(r["alive"] for r in rows)
    finally:
        down = heroes(lab_dir, "down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    for record in records:
        assert record.name in down.stdout
        # Gone, or exited and waiting for init to reap it (its parent, `lab up`, has exited).
        assert not is_alive(record), record
    assert still_running(table.records()) == []
    assert all(r.stopped_at is not None for r in table.records())
    after = heroes(lab_dir, "status")
    assert after.returncode == 1
    assert not any(r["alive"] for r in json.loads(after.stdout)["processes"])
