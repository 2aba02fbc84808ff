"""Pump libtorrent alerts into asyncio without a busy loop.

``wait_for_alert`` blocks in a worker thread; the alerts are then popped and handled on
the event loop, and the next wait starts only after the handler returned, because
libtorrent invalidates a batch of alerts at the next ``pop_alerts``. Reads no settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import libtorrent as lt

log = logging.getLogger(__name__)

WAIT_MS = 250


class AlertPump:
    """Feeds every alert of one session to ``handler`` until ``stop`` is set."""

    def __init__(self, session: lt.session, handler: Callable[[Any], None], name: str):
        self.session = session
        self.handler = handler
        self.name = name
        self.handled = 0
        self.failed = 0
        self.dropped = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.session.wait_for_alert, WAIT_MS)
            self.drain()

    def drain(self) -> None:
        for alert in self.session.pop_alerts():
            if isinstance(alert, lt.alerts_dropped_alert):
                self.dropped += 1
                log.error("%s: libtorrent dropped alerts (queue full): %s", self.name,
                          alert.message())
            try:
                self.handler(alert)
                self.handled += 1
            except Exception:
                # One bad alert must not stop the probe; it is counted and logged in full.
                self.failed += 1
                log.exception("%s: handling %s failed", self.name, type(alert).__name__)
