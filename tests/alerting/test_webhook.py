"""The signed webhook channel: the real sender and outbox against a lab receiver on loopback.

The receiver (tests.alerting.lab_webhook) checks the signature as a case tool would: the
sender's requests pass it, a request signed with another key is refused (and the message is
given up, not retried), and a receiver that is down and then up gets each alert once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from alerting.db import AlertDB
from alerting.rules import Firing
from alerting.sender import Sender
from alerting.state import AlertState
from alerting.webhook import WebhookChannel, WebhookKeyMissing, load_key, signature, verify
from config import Settings
from config.sections.alerts import AlertRule, AlertSettings, WebhookSettings
from telemetry.metrics import REGISTRY
from tests.alerting.lab_webhook import Receiver, free_port

KEY = b"lab-webhook-key"
RULE = AlertRule(name="flagged-hit", type="hit", recipients=[])


def settings_for(tmp_path: Path, url: str, key: bytes = KEY) -> Settings:
    hook = WebhookSettings(urls=[url], secret=SecretStr(key.decode()), timeout_s=5.0)
    return Settings(data_dir=tmp_path, alerts=AlertSettings(
        rules=[RULE], webhook=hook, console_url="http://console.localhost"),
        smtp={"poll_s": 0.1, "retry_initial_s": 0.1, "retry_max_s": 0.5})


def raise_alert(settings: Settings, key: str = "infohash:9a1b") -> str:
    """One alert of RULE through the alert state, as the engine records it."""
    db = AlertDB(settings.data_dir / "alerts.sqlite")
    try:
        state = AlertState(db, console_url=settings.alerts.console_url,
                           webhooks=settings.alerts.webhook.urls)
        firing = Firing(rule=RULE.name, rule_type="hit", doc_kind="observation", doc_id=f"o-{key}",
                        version="1", time=datetime.now(UTC), key=key,
                        summary="flagged infohash seen", facts=(("Infohash", "9a1b"),))
        [alert] = state.apply([firing], {RULE.name: RULE}, time.time())
        return alert
    finally:
        db.close()


def webhooks_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("heroes_alert_webhooks_total", {"outcome": outcome}) or 0.0


@pytest.fixture
def sender_of() -> Iterator[list[Sender]]:
    made: list[Sender] = []
    yield made
    for sender in made:
        sender.close()


def test_signature_covers_the_timestamp_and_the_body() -> None:
    body = b'{"id":"a"}'
    sig = signature(KEY, "1700000000", body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify(KEY, "1700000000", body, sig, now=1700000010)
    assert not verify(KEY, "1700000000", body + b" ", sig, now=1700000010)
    assert not verify(b"other", "1700000000", body, sig, now=1700000010)
    assert not verify(KEY, "1700000001", body, sig, now=1700000010)  # timestamp is signed
    assert not verify(KEY, "1700000000", body, sig, now=1700009999)  # too old: a replay
    assert not verify(KEY, "soon", body, sig, now=1700000010)


def test_urls_without_a_key_switch_the_channel_off_and_the_key_file_is_read(tmp_path: Path) -> None:
    with pytest.raises(WebhookKeyMissing, match="HEROES_ALERTS__WEBHOOK__SECRET"):
        load_key(WebhookSettings(urls=["http://127.0.0.1:9/hook"]))
    assert "HEROES_ALERTS__WEBHOOK__SECRET" in WebhookChannel(
        WebhookSettings(urls=["http://127.0.0.1:9/hook"])).off
    with pytest.raises(ValidationError, match="'ftp://x'"):
        WebhookSettings(urls=["ftp://x"], secret=SecretStr("k"))
    path = tmp_path / "webhook.key"
    path.write_text("from-file\n")
    assert load_key(WebhookSettings(urls=["http://x/"], secret_file=str(path))) == b"from-file"
    path.write_text("")
    with pytest.raises(WebhookKeyMissing, match="is empty"):
        load_key(WebhookSettings(urls=["http://x/"], secret_file=str(path)))


async def test_a_signed_alert_reaches_the_receiver(tmp_path: Path,
                                                   sender_of: list[Sender]) -> None:
    receiver = await Receiver(KEY).start()
    try:
        settings = settings_for(tmp_path, receiver.url)
        alert = raise_alert(settings)
        sender = Sender(settings, None)
        sender_of.append(sender)
        sender.open()
        sent_before = webhooks_counted("sent")
        assert await sender.run_once() == 1
        assert webhooks_counted("sent") == sent_before + 1
        [(delivery, body)] = receiver.accepted
        assert body["id"] == alert and body["rule"] == "flagged-hit"
        assert body["url"] == f"http://console.localhost/alerts/{alert}"
        [message] = sender.outbox.messages()
        assert message.status == "sent" and delivery == message.message_id
        assert message.server_reply.startswith("HTTP 204")
        assert json.loads(message.text_body) == body
        assert await sender.run_once() == 0 and len(receiver.accepted) == 1
    finally:
        await receiver.stop()


async def test_a_bad_signature_is_refused_and_not_retried(tmp_path: Path,
                                                          sender_of: list[Sender]) -> None:
    receiver = await Receiver(b"the-receivers-key").start()
    try:
        settings = settings_for(tmp_path, receiver.url, key=b"not-the-receivers-key")
        raise_alert(settings)
        sender = Sender(settings, None)
        sender_of.append(sender)
        sender.open()
        failed_before = webhooks_counted("failed")
        assert await sender.run_once() == 0
        assert webhooks_counted("failed") == failed_before + 1
        assert receiver.refused == 1 and not receiver.accepted
        [message] = sender.outbox.messages()
        assert message.status == "failed" and "401" in message.last_error
        await sender.run_once()
        assert receiver.refused == 1
    finally:
        await receiver.stop()


async def test_receiver_down_then_up_gets_each_alert_once(tmp_path: Path,
                                                          sender_of: list[Sender]) -> None:
    port = free_port()
    settings = settings_for(tmp_path, f"http://127.0.0.1:{port}/hook")
    alerts = {raise_alert(settings, "infohash:1"), raise_alert(settings, "infohash:2")}
    sender = Sender(settings, None)
    sender_of.append(sender)
    sender.open()
    assert await sender.run_once() == 0  # nobody listens: both wait in the outbox
    waiting = sender.outbox.messages()
    assert {m.status for m in waiting} == {"queued"} and all(m.attempts == 1 for m in waiting)
    assert all("unreachable" in m.last_error for m in waiting)
    receiver = await Receiver(KEY, port=port).start()
    try:
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))
        deadline = time.monotonic() + 30
        while len(receiver.accepted) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        passes = sender.counters.passes
        while sender.counters.passes < passes + 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)
        assert {body["id"] for _, body in receiver.accepted} == alerts
        assert len(receiver.accepted) == 2 and receiver.refused == 0
        assert {m.status for m in sender.outbox.messages()} == {"sent"}
    finally:
        await receiver.stop()
