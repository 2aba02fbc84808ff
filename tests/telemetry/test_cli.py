"""Services (the console, the drain): metrics and health on ``metrics.listen``, JSON logs.

The real command in a subprocess, on a port it picks itself (``127.0.0.1:0``) and names in
its log; pages spooled from outside are drained by it and counted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import load_settings
from documents import Page
from index.store import Store

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {"time", "level", "role", "logger", "event", "message"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Running:
    """A command whose stderr lines are collected while it runs."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def until(self, condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while not (found := condition()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"{what}: not reached\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.05)
        return found

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        return self.proc.returncode


def _metrics_port(lines: list[str]) -> int | None:
    for line in list(lines):
        entry = json.loads(line)
        if entry["logger"] == "telemetry.service" and "metrics on" in entry["message"]:
            return int(entry["message"].split(":")[2].split("/")[0])
    return None


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _drained(base: str) -> float:
    _, body = _get(f"{base}/metrics")
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "heroes_drained_documents_total" and sample.labels == {
                    "kind": "page"}:
                return sample.value
    return 0.0


@pytest.mark.parametrize(("command", "roles"), [
    (["serve", "--port", "PORT"], {"serve"}),
    (["index", "drain", "--forever"], {"index drain", "drain"}),
], ids=["console", "drain"])
def test_a_service_exposes_metrics_and_health_and_logs_json_lines(
        tmp_path: Path, command: list[str], roles: set[str]) -> None:
    data = tmp_path / "data"
    config = tmp_path / "heroes.toml"
    config.write_text('[metrics]\nlisten = "127.0.0.1:0"\n\n[logging]\nformat = "json"\n\n'
                      "[index]\nbatch_age_s = 0.05\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    running = Running([sys.executable, "-m", "heroes.cli", "--config", str(config),
                       "--data-dir", str(data), "-v",
                       *[str(_free_port()) if a == "PORT" else a for a in command]], env)
    try:
        port = running.until(lambda: _metrics_port(running.lines), "the metrics listener")
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/healthz") == (200, b'{"status": "ok"}')
        _, body = running.until(lambda: (r := _get(f"{base}/readyz"))[0] == 200 and r,
                                "ready")
        assert json.loads(body)["checks"] == {"backend": "ok", "spool": "ok"}
        settings = load_settings(None, environ={}, overrides={"data_dir": str(data)})
        store = Store(settings)
        store.append([Page(url=f"http://s{i}example.onion/", title="forum", text="market",
                           fetched_at="2026-11-28T12:00:00Z", sha256=f"{i:064x}")
                      for i in range(4)])
        store.close()
        running.until(lambda: _drained(base) >= 4, "4 pages drained and counted")
    finally:
        code = running.stop()
    assert code == 0, "\n".join(running.lines[-40:])
    entries = [json.loads(line) for line in running.lines]
    assert entries, "no log lines"
    for entry in entries:
        assert FIELDS <= set(entry), entry
        assert entry["time"].endswith("+00:00")
    assert {e["role"] for e in entries} >= roles


def test_a_taken_metrics_port_is_a_user_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
        env["HEROES_METRICS__LISTEN"] = f"127.0.0.1:{port}"
        done = subprocess.run(
            [sys.executable, "-m", "heroes.cli", "--data-dir", str(tmp_path / "data"), "serve",
             "--port", str(_free_port())],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"metrics.listen 127.0.0.1:{port}: cannot listen" in done.stderr
    assert "Traceback" not in done.stderr
