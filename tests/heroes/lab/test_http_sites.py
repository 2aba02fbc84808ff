"""The lab web server turns marker files into hostile responses, and the canary records hits."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from heroes.lab.http_sites import canary_hits
from heroes.lab.processes import log_tail


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, Path]]:
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text("<html><title>hi</title></html>")
    (root / "bomb.html.hostile.json").write_text(
        json.dumps({"kind": "gzip_bomb", "decompressed_bytes": 8 * 1024 * 1024})
    )
    (root / "huge.html.hostile.json").write_text(json.dumps({"kind": "huge", "bytes": 3_000_000}))
    (root / "away.html.hostile.json").write_text(
        json.dumps({"kind": "redirect", "status": 302, "location": "http://127.0.0.1:9/x"})
    )
    port, canary = _free_port(), _free_port()
    log = root.parent / "canary.jsonl"
    out = root.parent / "web.log"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heroes.lab.http_sites",
                "--site",
                f"s:{port}:{root}",
                "--canary-port",
                str(canary),
                "--canary-log",
                str(log),
            ],
            stdout=sink,
            stderr=sink,
        )
    deadline = time.monotonic() + 30
    while "ready" not in out.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"lab web server did not start:\n{log_tail(out)}")
        time.sleep(0.05)
    yield port, canary, log
    proc.terminate()
    proc.wait(timeout=10)


def _get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    return conn.getresponse()


def test_static_and_markers(server: tuple[int, int, Path]) -> None:
    port, _, _ = server
    assert b"<title>hi</title>" in _get(port, "/").read()
    bomb = _get(port, "/bomb.html")
    assert bomb.getheader("Content-Encoding") == "gzip"
    body = bomb.read()
    assert len(body) < 100_000
    assert len(gzip.decompress(body)) > 8_000_000
    huge = _get(port, "/huge.html")
    assert huge.getheader("Content-Length") is None
    assert len(huge.read()) == 3_000_000
    away = _get(port, "/away.html")
    assert (away.status, away.getheader("Location")) == (302, "http://127.0.0.1:9/x")
    assert _get(port, "/bomb.html.hostile.json").status == 404
    assert _get(port, "/../../etc/passwd").status == 404


def test_canary_records_every_hit(server: tuple[int, int, Path]) -> None:
    _, canary, log = server
    assert canary_hits(log) == []
    _get(canary, "/canary?x=1").read()
    hits = canary_hits(log)
    assert len(hits) == 1 and hits[0]["path"] == "/canary?x=1"
