"""Alert email end to end with a real SMTP server (the lab sink, aiosmtpd) on loopback.

Documents go in through Store.append; a running drain role (matching + alert engine) and
a running sender deliver the email; the sink stores each message as a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from alerting.db import AlertDB, alert_db_path
from alerting.outbox import Outbox
from alerting.sender import run_sender
from alerting.state import AlertState
from config import Settings
from config.sections.alerts import AlertRule, AlertSettings, SmtpSettings
from documents import Observation, Page
from index.backends.es_alerts import cluster_alerts_for
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.store import Store
from query.model import Search

ROOT = Path(__file__).resolve().parents[2]
IH = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
MD5 = "0123456789abcdef0123456789abcdef"
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
TO = "unit@lab.localhost"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """The lab SMTP sink as a subprocess; messages are read back from its directory."""

    def __init__(self, directory: Path, *, port: int = 0, starttls: bool = False):
        self.directory = directory
        self.port = port
        self.starttls = starttls
        self.cert = directory.parent / f"{directory.name}-cert.pem"
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = directory.parent / f"{directory.name}-sink.log"

    def start(self, timeout: float = 20.0) -> Sink:
        args = [
            sys.executable,
            "-m",
            "heroes.lab.smtp_sink",
            "--dir",
            str(self.directory),
            "--port",
            str(self.port),
            "--cert",
            str(self.cert),
        ]
        if self.starttls:
            args.append("--starttls")
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("listening on"):
                    self.port = int(line.rsplit(":", 1)[1])
                    return self
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"SMTP sink did not start within {timeout}s; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def messages(self) -> list[EmailMessage]:
        files = sorted(self.directory.glob("*.eml")) if self.directory.exists() else []
        return [
            email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files
        ]


@pytest.fixture
def sink(tmp_path: Path) -> Sink:
    s = Sink(tmp_path / "mail").start()
    yield s
    s.stop()


async def wait_until(
    condition: Callable[[], object], timeout: float, what: str, log: Callable[[], str] = lambda: ""
) -> float:
    """Poll ``condition`` until true; returns the seconds it took. Fails naming ``what``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{log()}")


def make_settings(data_dir: Path, port: int, *rules: AlertRule, **smtp: object) -> Settings:
    options = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "none",
        "poll_s": 0.1,
        "retry_initial_s": 0.2,
        "retry_max_s": 1.0,
        "timeout_s": 5.0,
        **smtp,
    }
    return Settings(
        data_dir=data_dir,
        alerts=AlertSettings(rules=list(rules), console_url="http://console.localhost"),
        smtp=SmtpSettings(**options),
    )


def flag(data_dir: Path, *entries: Entry) -> None:
    members = MembershipStore(membership_path(data_dir))
    members.upsert(entries)
    members.close()


@contextlib.asynccontextmanager
async def pipeline(settings: Settings, *, sender: bool = True) -> AsyncIterator[Store]:
    """The production Store (embedded index) with a drain role and, optionally, a sender."""
    store = Store(settings)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(store.drain_role().run(stop))]
    if sender:
        tasks.append(asyncio.create_task(run_sender(
            settings, stop, append=store.append, cluster=cluster_alerts_for(settings))))
    try:
        yield store
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        store.close()


def text_of(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


NOW = datetime.now(UTC)
# Pages and peers only: a flagged magnet also yields a flagged torrent, with its own alert.
HIT_RULE = AlertRule(
    name="flagged-hit", type="hit", recipients=[TO], severity="critical",
    kinds=["page", "observation"],
)


@pytest.mark.parametrize("scenario", ["infohash-peer", "page-image", "page-magnet"])
async def test_each_hit_sends_one_email_within_5s(
    tmp_path: Path, sink: Sink, scenario: str
) -> None:
    data = tmp_path / "data"
    flag(
        data,
        Entry("lab-swarm", "infohash", IH, "swarm", "vic-7", "2026-11-29T00:00:00Z"),
        Entry("lab-images", "md5", MD5, "img", "vic-9", "2026-11-29T00:00:00Z"),
    )
    settings = make_settings(data, sink.port, HIT_RULE)
    doc, expected = {
        "infohash-peer": (
            Observation(
                infohash=IH,
                ip="127.0.0.7",
                port=51413,
                first_seen=NOW,
                last_seen=NOW,
                level=2,
                client="Transmission 4.0",
                sources=["tracker"],
            ),
            [
                "Peer:       127.0.0.7:51413",
                "L2 the peer announced pieces",
                f"infohash {IH} in infohash: list lab-swarm, category swarm, entry vic-7",
            ],
        ),
        "page-image": (
            Page(
                url="http://shopabc.onion/item/3",
                fetched_at=NOW,
                title="Lamp",
                text="nothing to see",
                media=[{"url": "http://shopabc.onion/i.png", "md5": MD5}],
            ),
            [
                "URL:",
                "http://shopabc.onion/item/3",
                f"md5 {MD5} in media.md5: list lab-images, category img, entry vic-9",
            ],
        ),
        "page-magnet": (
            Page(
                url="http://forumxyz.onion/t/9",
                fetched_at=NOW,
                entities={"magnets": [f"magnet:?xt=urn:btih:{IH}&dn=lab"]},
            ),
            ["Host:", "forumxyz.onion", f"infohash {IH} in entities.magnets"],
        ),
    }[scenario]
    async with pipeline(settings) as store:
        started = time.monotonic()
        store.append([doc])
        took = await wait_until(lambda: sink.messages(), 5.0, "the alert email", sink.log)
        await asyncio.sleep(0)
    [msg] = sink.messages()
    body = text_of(msg)
    for part in expected:
        assert part in body.replace("=\n", ""), body
    assert "http://console.localhost/alerts/" in body
    assert "nothing to see" not in msg.as_string() and "Lamp" not in body
    assert msg["Message-ID"].endswith("@heroes.alerts>") and msg["To"] == TO
    assert msg.get_body(("html",)) is not None
    assert time.monotonic() - started >= took


async def test_flagged_wallet_on_a_new_host(tmp_path: Path, sink: Sink) -> None:
    data = tmp_path / "data"
    flag(data, Entry("wallets", "btc", BTC, "payments", "w-1", "2026-11-29T00:00:00Z"))
    rule = AlertRule(
        name="wallet-new-host", type="new_term", field="host", lists=["wallets"], recipients=[TO]
    )
    settings = make_settings(data, sink.port, rule)
    async with pipeline(settings) as store:
        store.append(
            [Page(url="http://vendorone.onion/pay", fetched_at=NOW, entities={"btc": [BTC]})]
        )
        await wait_until(lambda: len(sink.messages()) == 1, 5.0, "the first email", sink.log)
        store.append(
            [Page(url="http://vendorone.onion/pay2", fetched_at=NOW, entities={"btc": [BTC]})]
        )
        store.append([Page(url="http://vendortwo.onion/", fetched_at=NOW, entities={"btc": [BTC]})])
        await wait_until(lambda: len(sink.messages()) == 2, 5.0, "the second email", sink.log)
        await wait_until(lambda: not store.spool.backlog(), 5.0, "an empty spool")
    subjects = [m["Subject"] for m in sink.messages()]
    assert "new host vendorone.onion" in subjects[0] and "new host vendortwo.onion" in subjects[1]
    assert f"btc {BTC} in entities.btc: list wallets" in text_of(sink.messages()[1])


async def test_realert_window_sends_nothing_more(tmp_path: Path, sink: Sink) -> None:
    data = tmp_path / "data"
    flag(data, Entry("lab-swarm", "infohash", IH, "", "", "2026-11-29T00:00:00Z"))
    settings = make_settings(data, sink.port, HIT_RULE)
    async with pipeline(settings) as store:
        for port in (6881, 6882, 6883):
            store.append(
                [Observation(infohash=IH, ip="127.0.0.8", port=port, first_seen=NOW, last_seen=NOW)]
            )
        await wait_until(lambda: sink.messages(), 5.0, "the alert email", sink.log)
        state = AlertState(AlertDB(alert_db_path(data)))
        await wait_until(
            lambda: [a.count for a in state.list()] == [3], 5.0, "the alert to count 3 documents"
        )
        outbox = Outbox(state.db)
        await wait_until(lambda: outbox.counts() == {"sent": 1}, 5.0, "the email marked sent")
        await wait_until(lambda: not store.spool.backlog(), 5.0, "an empty spool")
        state.db.close()
    assert len(sink.messages()) == 1
    reader = Store(settings)
    result = await reader.search(Search("alert"))
    reader.close()
    [hit] = result["hits"]["hits"]
    assert hit["_source"]["count"] == 3 and hit["_source"]["deliveries"][0]["status"] == "sent"


async def test_digest_sends_one_email_for_many_hits(tmp_path: Path, sink: Sink) -> None:
    data = tmp_path / "data"
    flag(data, Entry("lab-swarm", "infohash", IH, "", "", "2026-11-29T00:00:00Z"))
    rule = AlertRule(name="digest", type="hit", recipients=[TO], digest_s=1.0)
    settings = make_settings(data, sink.port, rule)
    async with pipeline(settings) as store:
        store.append(
            [
                Observation(
                    infohash=IH, ip=f"127.0.1.{i}", port=6881, first_seen=NOW, last_seen=NOW
                )
                for i in range(1, 9)
            ]
        )
        await wait_until(lambda: sink.messages(), 6.0, "the digest", sink.log)
        outbox = Outbox(AlertDB(alert_db_path(data)))
        await wait_until(lambda: outbox.counts() == {"sent": 1}, 5.0, "the digest marked sent")
        outbox.db.close()
    [msg] = sink.messages()
    assert "digest of 8 alerts" in msg["Subject"]
    assert all(f"127.0.1.{i}:6881" in text_of(msg) for i in range(1, 9))


async def test_smtp_down_then_up_delivers_every_alert_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    flag(data, Entry("lab-swarm", "infohash", IH, "", "", "2026-11-29T00:00:00Z"))
    port = free_port()
    settings = make_settings(data, port, HIT_RULE)
    sink = Sink(tmp_path / "mail", port=port)
    outbox = Outbox(AlertDB(alert_db_path(data)))
    try:
        async with pipeline(settings) as store:
            store.append(
                [
                    Observation(
                        infohash=IH, ip=f"127.0.2.{i}", port=6881, first_seen=NOW, last_seen=NOW
                    )
                    for i in range(1, 5)
                ]
            )
            await wait_until(
                lambda: [m for m in outbox.messages() if m.attempts >= 2],
                10.0,
                "failed attempts while the server is down",
            )
            assert "unreachable" in outbox.messages()[0].last_error
            sink.start()
            await wait_until(lambda: outbox.counts() == {"sent": 4}, 10.0, "4 sent", sink.log)
        assert len(sink.messages()) == 4
        assert len({m["Message-ID"] for m in sink.messages()}) == 4
    finally:
        outbox.db.close()
        sink.stop()


async def test_starttls_required_but_not_offered_is_not_sent_and_retried(
    tmp_path: Path, sink: Sink
) -> None:
    data = tmp_path / "data"
    flag(data, Entry("lab-swarm", "infohash", IH, "", "", "2026-11-29T00:00:00Z"))
    settings = make_settings(data, sink.port, HIT_RULE, tls="starttls")
    outbox = Outbox(AlertDB(alert_db_path(data)))
    try:
        async with pipeline(settings) as store:
            store.append(
                [Observation(infohash=IH, ip="127.0.3.1", port=6881, first_seen=NOW, last_seen=NOW)]
            )
            await wait_until(
                lambda: [m for m in outbox.messages() if m.attempts >= 2],
                10.0,
                "two refused attempts",
            )
        [msg] = outbox.messages()
        assert msg.status == "queued" and msg.next_attempt > 0
        assert "does not offer STARTTLS" in msg.last_error and 'tls = "none"' in msg.last_error
        assert sink.messages() == []
    finally:
        outbox.db.close()


async def test_starttls_with_a_verified_certificate(tmp_path: Path) -> None:
    sink = Sink(tmp_path / "mail", starttls=True).start()
    try:
        data = tmp_path / "data"
        flag(data, Entry("lab-swarm", "infohash", IH, "", "", "2026-11-29T00:00:00Z"))
        settings = make_settings(data, sink.port, HIT_RULE, tls="starttls", ca_certs=str(sink.cert))
        async with pipeline(settings) as store:
            store.append(
                [Observation(infohash=IH, ip="127.0.4.1", port=6881, first_seen=NOW, last_seen=NOW)]
            )
            await wait_until(lambda: sink.messages(), 5.0, "the email over TLS", sink.log)
        assert sink.messages()[0]["X-Sink-TLS"] == "yes"
    finally:
        sink.stop()


def write_config(path: Path, port: int) -> Path:
    path.write_text(
        "[smtp]\n"
        f'host = "127.0.0.1"\nport = {port}\ntls = "none"\n'
        "poll_s = 0.1\nretry_initial_s = 0.2\nretry_max_s = 0.5\ntimeout_s = 5.0\n"
        "[[alerts.rules]]\n"
        f'name = "flagged-hit"\ntype = "hit"\nrecipients = ["{TO}"]\n'
    )
    return path


def start_sender(config: Path, data: Path, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heroes.cli",
            "--config",
            str(config),
            "--data-dir",
            str(data),
            "alerts",
            "send",
        ],
        stdout=out,
        stderr=out,
        cwd=ROOT,
        env={**os.environ},
    )
    out.close()
    return proc


async def test_outbox_survives_sigkill_of_the_sender(tmp_path: Path) -> None:
    data = tmp_path / "data"
    flag(data, Entry("lab-swarm", "infohash", IH, "", "", "2026-11-29T00:00:00Z"))
    port = free_port()
    config = write_config(tmp_path / "heroes.toml", port)
    settings = make_settings(data, port, HIT_RULE)
    async with pipeline(settings, sender=False) as store:  # alerts raised; no sender in process
        store.append(
            [
                Observation(
                    infohash=IH, ip=f"127.0.5.{i}", port=6881, first_seen=NOW, last_seen=NOW
                )
                for i in range(1, 4)
            ]
        )
        outbox = Outbox(AlertDB(alert_db_path(data)))
        await wait_until(lambda: len(outbox.messages()) == 3, 5.0, "3 queued messages")
    log = tmp_path / "sender.log"
    sink = Sink(tmp_path / "mail", port=port)
    sender = start_sender(config, data, log)
    try:
        await wait_until(
            lambda: sum(m.attempts for m in outbox.messages()) >= 2
            and all("unreachable" in m.last_error for m in outbox.messages()),
            20.0,
            "the sender to find the server down",
            log.read_text,
        )
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
        assert {m.status for m in outbox.messages()} <= {"queued", "sending"}
        sink.start()
        sender = start_sender(config, data, log)
        await wait_until(
            lambda: outbox.counts() == {"sent": 3},
            15.0,
            "3 sent after the restart",
            lambda: log.read_text() + sink.log(),
        )
        assert len(sink.messages()) == 3
        assert len({m["Message-ID"] for m in sink.messages()}) == 3
    finally:
        if sender.poll() is None:
            sender.send_signal(signal.SIGTERM)
            try:
                sender.wait(10)
            except subprocess.TimeoutExpired:
                sender.kill()
                sender.wait()
        outbox.db.close()
        sink.stop()


async def test_mail_test_prints_the_dialogue(tmp_path: Path, sink: Sink) -> None:
    config = write_config(tmp_path / "heroes.toml", sink.port)
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "heroes.cli",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
            "mail",
            "test",
            "--to",
            TO,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "EHLO: 250" in result.stdout and "DATA: accepted (OK stored)" in result.stdout
    assert len(sink.messages()) == 1
    refused = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "heroes.cli",
            "--config",
            str(write_config(tmp_path / "down.toml", free_port())),
            "--data-dir",
            str(tmp_path / "data"),
            "mail",
            "test",
            "--to",
            TO,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert refused.returncode == 3 and "unreachable" in refused.stderr
