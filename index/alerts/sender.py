"""The sender role: delivers the outbox until stopped (``run_sender``).

Any long-lived process may run it (``heroes alerts send``, the console, the demo); more
than one at a time only risks the at-most-once resend the outbox allows. Each pass
composes closed digests, then sends every due message, marking it ``sending`` before the
conversation and ``sent`` only after the server accepted it; temporary failures back off
exponentially per message. Alert documents are re-spooled with their delivery status.
Reads ``smtp``, ``alerts.console_url`` and ``data_dir``. With ``smtp.host`` empty the
role switches itself off and says so; alerts keep waiting in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from index.alerts.db import AlertDB, alert_db_path
from index.alerts.mailer import DeliveryError, ServerUnreachable, build_message, deliver
from index.alerts.outbox import Outbox
from index.alerts.state import AlertState
from index.documents import Document

log = logging.getLogger(__name__)


@dataclass
class SenderCounters:
    passes: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


class Sender:
    def __init__(
        self,
        settings: Settings,
        append: Callable[[Iterable[Document]], int] | None = None,
        db_path: Path | None = None,
    ):
        self.settings = settings
        self.smtp = settings.smtp
        self.db = AlertDB(db_path or alert_db_path(settings.data_dir))
        self.outbox = Outbox(self.db, console_url=settings.alerts.console_url)
        self.state = AlertState(self.db)
        self.append = append
        self.counters = SenderCounters()

    def close(self) -> None:
        self.db.close()

    async def run_once(self) -> int:
        """One pass: compose closed digests and send what is due; returns messages sent."""
        now = time.time()
        await asyncio.to_thread(self.outbox.compose_digests, now)
        sent = 0
        for out in await asyncio.to_thread(self.outbox.due, now):
            await asyncio.to_thread(self.outbox.mark_sending, out.message_id)
            try:
                reply = await deliver(self.smtp, build_message(self.smtp, out))
            except DeliveryError as exc:
                if not exc.temporary:
                    log.error("alert email %s to %s refused: %s", out.message_id, out.recipient,
                              exc)
                    await asyncio.to_thread(self.outbox.mark_failed, out.message_id, str(exc),
                                            time.time())
                    self.counters.failed += 1
                    continue
                delay = min(self.smtp.retry_initial_s * 2**out.attempts, self.smtp.retry_max_s)
                log.warning("alert email %s to %s not sent (attempt %d), retry in %.1fs: %s",
                            out.message_id, out.recipient, out.attempts + 1, delay, exc)
                until = time.time() + delay
                await asyncio.to_thread(self.outbox.retry_later, out.message_id, until, str(exc))
                self.counters.retried += 1
                if isinstance(exc, ServerUnreachable):
                    # One refused connection says enough: the rest wait as long, untried.
                    await asyncio.to_thread(self.outbox.postpone_due, now, until, str(exc))
                    break
                continue
            await asyncio.to_thread(self.outbox.mark_sent, out.message_id, reply, time.time())
            log.info("alert email %s sent to %s", out.message_id, out.recipient)
            self.counters.sent += 1
            sent += 1
        if self.append is not None:
            await asyncio.to_thread(self.state.spool_pending, self.append)
        self.counters.passes += 1
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.run_once()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.smtp.poll_s)
            except TimeoutError:
                pass


async def run_sender(
    settings: Settings,
    stop: asyncio.Event,
    *,
    append: Callable[[Iterable[Document]], int] | None = None,
) -> None:
    """Deliver alert email until ``stop`` is set. ``append`` spools updated alert documents
    (default: the installation's spool)."""
    if not settings.smtp.host:
        log.warning("alert email is off: smtp.host is empty (alerts stay in the outbox)")
        return
    store = None
    if append is None:
        from index.store import Store

        store = Store(settings)
        append = store.append
    sender = Sender(settings, append)
    log.info(
        "alert sender started: %s:%d, tls=%s",
        settings.smtp.host,
        settings.smtp.port,
        settings.smtp.tls,
    )
    try:
        await sender.run(stop)
    finally:
        sender.close()
        if store is not None:
            store.close()
