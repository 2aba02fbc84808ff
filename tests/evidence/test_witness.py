"""Witnesses: each head reaches the lab SMTP sink (through the alert outbox and sender) and an
HTTP endpoint; one that is down gets the heads it missed once it is back."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerting.sender import run_sender
from config import Settings
from config.sections.alerts import SmtpSettings
from config.sections.evidence import EvidenceSettings
from evidence.heads import read_heads
from evidence.keys import SigningKey
from evidence.witness import witness_status
from heroes.console.audit import AuditLog, AuditWriter
from heroes.lab.tsa import free_port
from tests.index.test_alerts_live import Sink, wait_until

WITNESS = "witness@lab.localhost"


class Endpoint:
    """An HTTP witness on loopback that keeps every head POSTed to it."""

    def __init__(self, port: int):
        self.heads: list[dict] = []
        received = self.heads

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    s = Sink(tmp_path / "mail").start()
    yield s
    s.stop()


async def test_a_witness_email_and_post_for_each_head(tmp_path: Path, key: SigningKey,
                                                      sink: Sink) -> None:
    data = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}/heads"
    evidence = EvidenceSettings(signing_key_file=key.path, witnesses=[WITNESS, url],
                                witness_timeout_s=2)
    settings = Settings(data_dir=data, evidence=evidence, smtp=SmtpSettings(
        host="127.0.0.1", port=sink.port, tls="none", poll_s=0.1, retry_initial_s=0.2,
        retry_max_s=1.0, timeout_s=5.0))
    log = AuditLog.for_data_dir(data, evidence)
    writer = AuditWriter(log)
    writer.start()
    for i in range(3):
        await writer.record("search", user="alice", query=f"q{i}")
        await asyncio.to_thread(writer.sealer.seal_once)  # the endpoint is down: queued
    assert witness_status(log.sealed_log) == {"witnessed": 3}  # handed to the outbox
    stop = asyncio.Event()
    sender = asyncio.create_task(run_sender(settings, stop, append=None))
    with Endpoint(port) as endpoint:
        await writer.record("logout", user="alice")
        await writer.stop()  # the clean-stop head; the endpoint gets all four now
        heads, _ = read_heads(log.sealed_log.heads_path)
        assert [h.size for h in heads] == [1, 2, 3, 4]
        assert [h["size"] for h in endpoint.heads] == [1, 2, 3, 4]
        await wait_until(lambda: len(sink.messages()) >= 4, 30, "a witness email per head",
                         sink.log)
    stop.set()
    await asyncio.wait_for(sender, 30)
    mails = sink.messages()
    assert len(mails) == 4 and all(m["To"] == WITNESS for m in mails)
    bodies = {m.get_body(("plain",)).get_content().replace("\r\n", "\n") for m in mails}
    for head in heads:
        assert any(f"root: {head.root.hex()}" in b and f"size: {head.size}\n" in b
                   for b in bodies)
    assert log.head_status()["witnessed"] == 4
