"""``heroes demo``: the quick sample, the pure parts, and the whole pipeline on the lab world.

The live tests run the real command in a subprocess inside the loopback-only namespace
(``scripts/loopback-only.sh``): the lab world comes up, the crawl, probe, alert email and
searches run, and the world goes down — checked by the processes the lab recorded.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from heroes import demo_config
from heroes.demo import MARKER, STEPS, DemoFailed, headline, prepare_data_dir
from heroes.lab.processes import LabProcess, ProcessTable, still_running

ROOT = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT_S = 400


def heroes(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    env["HEROES_IN_NETNS"] = os.environ.get("HEROES_IN_NETNS", "")
    return subprocess.run([sys.executable, "-m", "heroes.cli", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_quick_demo_ingests_and_searches_a_sample(tmp_path: Path) -> None:
    done = heroes(tmp_path / "data", "demo", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "generated documents into" in done.stdout
    assert "$ heroes search 'escrow AND title:\"garden\"' --kind page" in done.stdout
    assert "pages per service:" in done.stdout


def test_demo_refuses_a_data_dir_it_did_not_make(tmp_path: Path) -> None:
    data = tmp_path / "installation"
    data.mkdir()
    (data / "spool.sqlite").write_bytes(b"")
    done = heroes(data, "demo")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "preparation" in done.stderr and str(data) in done.stderr
    assert (data / "spool.sqlite").exists() and not (data / MARKER).exists()


def test_an_earlier_demo_is_replaced_but_the_lab_keys_stay(tmp_path: Path) -> None:
    data = tmp_path / "d"
    prepare_data_dir(data)
    (data / "spool.sqlite").write_text("old")
    (data / "lab" / "tor").mkdir(parents=True)
    (data / "lab" / "tor" / "keys").write_text("k")
    (data / "lab" / "mail").mkdir()
    (data / "lab" / "mail" / "000001.eml").write_text("old mail")
    prepare_data_dir(data)
    assert not (data / "spool.sqlite").exists() and not (data / "lab" / "mail").exists()
    assert (data / "lab" / "tor" / "keys").read_text() == "k"
    (data / MARKER).unlink()
    with pytest.raises(DemoFailed, match="did not make"):
        prepare_data_dir(data)


@pytest.mark.parametrize("error", [RuntimeError("no tor"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_step_still_brings_the_lab_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    from heroes import demo, demo_lab

    calls: list[Path] = []

    def up(lab_dir: Path, *, base_port: int) -> Any:
        raise error

    def down(lab_dir: Path) -> tuple[list[str], list[str]]:
        calls.append(lab_dir)
        return [], []

    monkeypatch.setattr(demo_lab, "up", up)
    monkeypatch.setattr(demo_lab, "down", down)
    lines: list[str] = []
    expected = DemoFailed if isinstance(error, Exception) else KeyboardInterrupt
    with pytest.raises(expected) as caught:
        demo.run_full(tmp_path / "d", say=lines.append)
    if expected is DemoFailed:
        assert str(caught.value) == f"step 1 ({STEPS[1]}) failed: no tor"
    assert calls == [(tmp_path / "d" / "lab").resolve()]
    assert lines == [headline(1), headline(8), "  stopped 0 processes: none"]


def fake_world(tmp_path: Path) -> dict[str, Any]:
    torrents = [{"label": "v1", "v1": "5040c1ce94f4969c26a0f1a1ffa26241d38766f6", "name": "x"}]
    return {
        "socks": {"port": 17900}, "control": {"port": 17830},
        "swarm": {"trackers": ["http://127.0.0.1:6970/announce"],
                  "dht_bootstrap": "127.0.0.2:6881", "torrents": torrents, "peers": []},
    }


def test_demo_config_is_valid_settings(tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(demo_config.config_text(fake_world(tmp_path), 2525, "/x/cert.pem", "WARNING"))
    settings = load_settings(path, environ={}, overrides={"data_dir": str(tmp_path)})
    assert settings.tor.mode == "attach" and settings.tor.control_ports == [17830]
    assert settings.smtp.tls == "starttls" and settings.smtp.port == 2525
    assert settings.probe.announce and settings.probe.dht_bootstrap_nodes == ["127.0.0.2:6881"]
    rules = {r.name: r for r in settings.alerts.rules}
    assert rules["flagged-peer"].key == ["infohash", "ip"]
    assert rules["flagged-page"].kinds == ["page"] and rules["flagged-page"].key == ["host"]
    assert rules["wallet-new-host"].type == "new_term"


def test_hash_lists_come_from_the_world_and_its_ground_truth(tmp_path: Path) -> None:
    truth = {
        "flagged_media": [{"sha256": "ab" * 32}, {"sha256": "ab" * 32}, {"sha256": "cd" * 32}],
        "pages": {
            "u1": {"service": "market", "reachable": True, "entities": {"btc": ["1B", "1A"]}},
            "u2": {"service": "forum", "reachable": True, "entities": {"btc": ["1B"]}},
            "u3": {"service": "paste", "reachable": False, "entities": {"btc": ["1C"]}},
        },
    }
    lists = {hl.name: hl for hl in demo_config.hash_lists(fake_world(tmp_path), truth)}
    assert lists["lab-swarm"].values == ("5040c1ce94f4969c26a0f1a1ffa26241d38766f6",)
    assert lists["lab-media"].values == ("ab" * 32, "cd" * 32)
    assert lists["lab-wallets"].values == ("1B",)
    assert lists["lab-media"].text().splitlines()[1:] == ["ab" * 32, "cd" * 32]


def needs_lab() -> None:
    if os.environ.get("HEROES_IN_NETNS") != "1":
        pytest.skip("the demo runs inside scripts/loopback-only.sh (nothing may leave the host)")


def subjects(directory: Path) -> list[str]:
    return [
        str(email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Subject"])
        for f in sorted(directory.glob("*.eml"))
    ]


def recorded(data: Path) -> list[LabProcess]:
    table = ProcessTable.of(data / "lab")
    assert table.path.exists(), f"the demo did not record the lab's processes in {table.path}"
    return table.records()


@pytest.mark.tor
@pytest.mark.swarm
def test_full_demo_on_the_lab_world(tmp_path: Path) -> None:
    needs_lab()
    data = tmp_path / "demo"
    done = heroes(data, "demo", timeout=DEMO_TIMEOUT_S)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    for step in STEPS:
        assert headline(step) in done.stdout, f"no headline of step {step}:\n{output[-6000:]}"
    mail = subjects(data / "lab" / "mail")
    peers = [s for s in mail if s.startswith("[heroes critical] flagged-peer:")]
    # Two lab torrents, five lab peers each: one email per infohash+ip.
    assert len(peers) == 10, mail
    assert any(s.startswith("[heroes high] flagged-page:") for s in mail), mail
    assert any(s.startswith("[heroes medium] wallet-new-host: new host") for s in mail), mail
    assert "magnet link found on: http://" in done.stdout
    assert "$ heroes --data-dir" in done.stdout and "serve" in done.stdout
    assert "'demo-analyst' with password" in done.stdout
    # Hash-list hygiene: a turned lab picture, the lab video's variants, a negative list.
    assert " hashes compute " in done.stdout and " hashes check " in done.stdout
    assert ": lab-turned (pdq, distance " in done.stdout
    assert "lab-turned pdq (as " in done.stdout, output[-6000:]
    assert done.stdout.count("lab-videos vpdq (") >= 2 and "of the video's frames" in done.stdout
    # The lab is crawled twice (one crawler, then two on a shared frontier): a hit each time.
    suppressed = re.search(r"negative list lab-known-good: (\d+) hits? suppressed", done.stdout)
    assert suppressed and int(suppressed.group(1)) >= 1, output[-6000:]
    # Analysis: clusters with their reasons, a late list hunted over the past, exports.
    assert re.search(r"clusters list  \((\d+) clusters\)", done.stdout), output[-6000:]
    assert "linked by " in done.stdout, output[-6000:]
    assert re.search(r"list arrived-later: 1 hits?, 1 alerts? raised", done.stdout), output[-6000:]
    for fmt in ("misp", "stix"):
        exported = re.search(rf"export {fmt} --alert \S+ --out (\S+)", done.stdout)
        assert exported, output[-6000:]
        assert json.loads(Path(exported.group(1)).read_text()), exported.group(1)
    procs = recorded(data)
    # tor instances, web servers, swarm, mail sink: each recorded, each stopped.
    assert {"tor", "web", "swarm", "smtp"} <= {p.group for p in procs}, procs
    assert len(procs) >= 10, procs
    assert all(p.stopped_at is not None for p in procs), procs
    assert still_running(procs) == []


@pytest.mark.tor
@pytest.mark.swarm
def test_interrupted_demo_brings_the_lab_down(tmp_path: Path) -> None:
    needs_lab()
    data = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    env["HEROES_IN_NETNS"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "heroes.cli", "--data-dir", str(data), "demo"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + DEMO_TIMEOUT_S / 2
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()
                seen.append(line)
                if line.startswith(headline(3)):
                    proc.send_signal(signal.SIGINT)
                    break
        else:
            pytest.fail("the demo never reached the crawl:\n" + "".join(seen[-60:]))
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            # A demo killed outright cannot clean up: do it here, so no lab outlives the test.
            from heroes import demo_lab

            demo_lab.down((data / "lab").resolve())
    output = "".join(seen) + rest
    assert proc.returncode == 130, output[-4000:]
    assert headline(8) in output, output[-4000:]
    procs = recorded(data)
    assert procs and still_running(procs) == [], output[-4000:]
