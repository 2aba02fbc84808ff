"""Alert metrics end to end: a flagged observation drained, an alert raised, its email sent to
the lab SMTP sink (aiosmtpd), each counted on the scrape; an SMTP server that is down
counts retries and ages the outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from alerting.sender import Sender
from config import Settings
from config.sections.telemetry import MetricsSettings
from documents import Observation
from heroes.metrics import with_metrics
from index.hashsets.membership import Entry
from index.store import Store
from tests.index.test_alerts_live import HIT_RULE, IH, Sink, flag, free_port, make_settings
from tests.index.test_alerts_live import sink as sink
from tests.telemetry.test_service import Samples, scrape, serving, value


def with_listener(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics": MetricsSettings(listen="127.0.0.1:0")})


def flagged_peer(ip: str) -> Observation:
    now = datetime.now(UTC)
    return Observation(infohash=IH, ip=ip, port=51413, first_seen=now, last_seen=now, level=2,
                       sources=["tracker"])


async def scrape_until(base: str, condition: Callable[[Samples], bool], what: str,
                       timeout: float = 30) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        now = await scrape(base)
        if condition(now):
            return now
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s: {now}"
        await asyncio.sleep(0.05)


def entry() -> Entry:
    return Entry("lab-swarm", "infohash", IH, "swarm", "vic-7", "2026-11-29T00:00:00Z")


async def test_a_hit_is_counted_raised_and_sent(tmp_path: Path, sink: Sink) -> None:
    data = tmp_path / "data"
    flag(data, entry())
    settings = with_listener(make_settings(data, sink.port, HIT_RULE))
    store = Store(settings)
    try:
        roles = with_metrics(settings, store, [store.drain_role(), Sender(settings, store.append)])
        async with serving(roles) as base:
            before = await scrape(base)
            store.append([flagged_peer("127.0.0.7")])
            after = await scrape_until(
                base, lambda s: value(s, "heroes_alert_emails_total", outcome="sent")
                > value(before, "heroes_alert_emails_total", outcome="sent"), "an email sent")
    finally:
        store.close()
    assert len(sink.messages()) == 1
    assert value(after, "heroes_alerts_raised_total") > value(before, "heroes_alerts_raised_total")
    assert value(after, "heroes_outbox_messages", status="sent") == 1
    assert value(after, "heroes_outbox_oldest_age_seconds") == 0


async def test_smtp_down_counts_retries_and_ages_the_outbox(tmp_path: Path) -> None:
    data = tmp_path / "data"
    flag(data, entry())
    settings = with_listener(make_settings(data, free_port(), HIT_RULE))
    store = Store(settings)
    try:
        roles = with_metrics(settings, store, [store.drain_role(), Sender(settings, store.append)])
        async with serving(roles) as base:
            before = await scrape(base)
            store.append([flagged_peer("127.0.0.8")])
            after = await scrape_until(
                base, lambda s: value(s, "heroes_alert_emails_total", outcome="retried")
                > value(before, "heroes_alert_emails_total", outcome="retried")
                and value(s, "heroes_outbox_oldest_age_seconds") > 0, "a retry, an aging outbox")
    finally:
        store.close()
    assert value(after, "heroes_outbox_messages", status="queued") == 1
    assert value(after, "heroes_alert_emails_total", outcome="sent") == value(
        before, "heroes_alert_emails_total", outcome="sent")
