"""The sender role: delivers the outboxes until stopped (:class:`Sender`).

One loop over :class:`~alerting.delivery.OutboxStore` implementations: the local SQLite
outbox always, and the cluster's shared outbox (alerting.cluster_state.ClusterOutbox) when
alerts are shared (``cluster``). Any long-lived process may run it (``heroes alerts send``,
the console, the demo); more than one at a time on one machine only risks the at-most-once
resend the local outbox allows, and any number across machines share the cluster's outbox
under its delivery lease (``alerts.delivery_lease_s``). Each pass composes closed digests,
then, store by store, claims every due message (committed before the conversation),
delivers it by its channel (email: alerting.mailer; webhook: alerting.webhook) and marks it
sent only after the server accepted it; temporary failures back off exponentially per
message, and a server that cannot be reached at all postpones the rest of its channel.
Alert documents are re-spooled with their delivery status. ``async with Sender(settings,
append) as sender: await sender.run(stop)`` opens the alert database on entry and closes it
on exit; ``append`` spools the updated alert documents. Reads ``smtp``, ``alerts.webhook``,
``alerts.console_url``, ``alerts.delivery_lease_s`` and ``data_dir``. With neither
``smtp.host`` nor a webhook URL the role switches itself off and says so; alerts keep
waiting in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerting.cluster_state import ClusterAlertStore, ClusterOutbox
from alerting.db import AlertDB, alert_db_path
from alerting.delivery import Claim, OutboxStore, OutMessage
from alerting.mailer import DeliveryError, ServerUnreachable, build_message
from alerting.mailer import deliver as deliver_email
from alerting.outbox import Outbox
from alerting.state import AlertState
from alerting.webhook import WebhookChannel
from config import Settings
from documents import Document
from errors import BackendUnavailable
from telemetry.metrics import ALERT_EMAILS, ALERT_WEBHOOKS
from telemetry.sources import forget_outbox, watch_outbox

log = logging.getLogger(__name__)
# Each channel counts its deliveries in its own metric.
_OUTCOMES = {"email": ALERT_EMAILS, "webhook": ALERT_WEBHOOKS}


@dataclass
class SenderCounters:
    passes: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    store_errors: int = 0


class Sender:
    name = "sender"

    def __init__(
        self,
        settings: Settings,
        append: Callable[[Iterable[Document]], int] | None,
        db_path: Path | None = None,
        cluster: ClusterAlertStore | None = None,
    ):
        self.settings = settings
        self.smtp = settings.smtp
        self.db_path = db_path or alert_db_path(settings.data_dir)
        self.append = append
        self.counters = SenderCounters()
        self._db: AlertDB | None = None
        self.webhooks = WebhookChannel(settings.alerts.webhook)
        self.cluster = (
            ClusterOutbox(cluster, settings.alerts.delivery_lease_s,
                          settings.alerts.console_url)
            if cluster is not None else None
        )
        self.outboxes: list[OutboxStore[Any]] = []

    async def __aenter__(self) -> Sender:
        self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.webhooks.close()
        self.close()

    def open(self) -> None:
        if self._db is None:
            self._db = AlertDB(self.db_path)
            self.outbox = Outbox(self._db, console_url=self.settings.alerts.console_url)
            self.state = AlertState(self._db)
            watch_outbox(str(self.db_path), self.outbox)
            self.outboxes = [self.outbox, *([self.cluster] if self.cluster else [])]

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
        if self._db is not None:
            forget_outbox(str(self.db_path))
            self._db.close()
            self._db = None

    async def run_once(self) -> int:
        """One pass: compose closed digests and send what is due; returns messages sent."""
        sent = 0
        for store in self.outboxes:
            try:
                await asyncio.to_thread(store.compose, time.time())
                sent += await self._deliver_due(store)
            except BackendUnavailable as exc:
                # The cluster's outbox cannot be read or written (a node restarting, shards
                # recovering): its messages stay where they are, tried again next pass.
                self.counters.store_errors += 1
                log.warning("alert outbox %s unavailable, trying again in %.0f s: %s",
                            store.name, self.smtp.poll_s, exc)
        if self.append is not None:
            await asyncio.to_thread(self.state.spool_pending, self.append)
        self.counters.passes += 1
        return sent

    async def _deliver_due(self, store: OutboxStore[Any]) -> int:
        now = time.time()
        sent = 0
        # Channels whose server could not be reached this pass (email without a server: all).
        down = {c for c, off in (("email", not self.smtp.host),
                                 ("webhook", bool(self.webhooks.off))) if off}
        for item in await asyncio.to_thread(store.due, now, 100):
            if store.peek(item).channel in down:
                continue  # postponed with the rest of its channel, untried
            claim = await asyncio.to_thread(store.claim, item, now)
            if claim is None:
                continue  # another sender claimed it first
            out = claim.message
            try:
                reply = await self._deliver(out)
            except DeliveryError as exc:
                if await self._failed(store, claim, exc, now):
                    down.add(out.channel)
                continue
            await asyncio.to_thread(store.sent, claim, reply, time.time())
            log.info("alert %s %s sent to %s (%s outbox)", out.channel, out.message_id,
                     out.recipient, store.name)
            self.counters.sent += 1
            _OUTCOMES[out.channel].labels("sent").inc()
            sent += 1
        return sent

    async def _deliver(self, out: OutMessage) -> str:
        if out.channel == "webhook":
            return await self.webhooks.deliver(out)
        return await deliver_email(self.smtp, build_message(self.smtp, out))

    async def _failed(self, store: OutboxStore[Any], claim: Claim, exc: DeliveryError,
                      now: float) -> bool:
        """Record a failed delivery; True when its channel's server is down altogether."""
        out = claim.message
        outcomes = _OUTCOMES[out.channel]
        if not exc.temporary:
            log.error("alert %s %s to %s refused: %s", out.channel, out.message_id,
                      out.recipient, exc)
            await asyncio.to_thread(store.failed, claim, str(exc), time.time())
            self.counters.failed += 1
            outcomes.labels("failed").inc()
            return False
        delay = min(self.smtp.retry_initial_s * 2 ** (out.attempts - 1), self.smtp.retry_max_s)
        log.warning("alert %s %s to %s not sent (attempt %d), retry in %.1fs: %s", out.channel,
                    out.message_id, out.recipient, out.attempts, delay, exc)
        until = time.time() + delay
        await asyncio.to_thread(store.retry, claim, until, str(exc))
        self.counters.retried += 1
        outcomes.labels("retried").inc()
        if isinstance(exc, ServerUnreachable) and out.channel == "email":
            # One refused connection says enough: the rest wait as long, untried.
            await asyncio.to_thread(store.postpone, now, until, str(exc), out.channel)
            return True
        return False

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; the message in hand is finished first."""
        urls = self.settings.alerts.webhook.urls
        if not self.smtp.host and not urls:
            log.warning("alert email is off: smtp.host is empty (alerts stay in the outbox)")
            return
        if self.smtp.host:
            log.info("alert sender started: %s:%d, tls=%s", self.smtp.host, self.smtp.port,
                     self.smtp.tls)
        else:
            log.warning("alert email is off: smtp.host is empty (email stays in the outbox)")
        if urls and self.webhooks.off:
            log.error("alert webhooks are off: %s", self.webhooks.off)
        elif urls:
            log.info("alert webhooks: %d endpoints", len(urls))
        try:
            while not stop.is_set():
                await self.run_once()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.smtp.poll_s)
                except TimeoutError:
                    pass
        finally:
            await self.webhooks.close()


async def run_sender(
    settings: Settings,
    stop: asyncio.Event,
    *,
    append: Callable[[Iterable[Document]], int] | None,
    cluster: ClusterAlertStore | None = None,
) -> None:
    """Deliver alerts until ``stop`` is set; ``append`` spools updated alert documents,
    ``cluster`` is the cluster's outbox when alerts are shared."""
    async with Sender(settings, append, cluster=cluster) as sender:
        await sender.run(stop)
