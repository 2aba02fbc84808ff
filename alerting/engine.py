"""The alert engine drain stage: applies the configured rules to every committed document.

``after_commit`` evaluates each rule on each document (alerting.rules), records the
outcome in the alert database in one transaction (new alert, joined alert within the
realert window, digest item, or nothing) together with the outbox messages, then
appends the changed ``alert`` documents to the spool. A replayed batch changes nothing.
An alert database that cannot be written raises BackendUnavailable: the drain backs off
and replays the batch. With a cluster store (alerting.cluster_state) the alerts near the
firings are imported from the cluster first and the new ones published there after, so the
cluster has one alert and one email however many machines raise it; a cluster that does
not answer is a backend outage too (the unpublished alerts wait in the alert database).
``alert`` and ``hash`` documents are not evaluated. Reads the ``alerts`` settings section
and ``data_dir``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from alerting.cluster_state import ClusterAlerts, ClusterAlertStore
from alerting.db import AlertDB
from alerting.follow import chains
from alerting.rules import Firing, check_rule, evaluate
from alerting.state import AlertState
from config.sections.alerts import AlertSettings
from documents import KINDS, Document
from errors import BackendUnavailable
from telemetry.metrics import ALERTS_RAISED

log = logging.getLogger(__name__)


class AlertEngine:
    """DrainStage: alert rules at ingest."""

    name = "alerts"

    def __init__(
        self,
        settings: AlertSettings,
        db_path: Path,
        append: Callable[[Iterable[Document]], int],
        cluster: ClusterAlertStore | None = None,
    ):
        self.settings = settings
        self.rules = {rule.name: rule for rule in settings.rules}
        kinds = [k for k in KINDS if k not in ("alert", "hash")]
        for rule in settings.rules:  # a bad query stops start-up, not the drain
            check_rule(rule, kinds)
        self.db = AlertDB(db_path)
        self.state = AlertState(
            self.db, console_url=settings.console_url, max_matched=settings.max_matched,
            cluster=cluster is not None, webhooks=settings.webhook.urls,
        )
        self.cluster = (
            ClusterAlerts(cluster, self.state, settings.console_url) if cluster else None
        )
        self.append = append
        self.counters = {"evaluated": 0, "fired": 0, "alerts_changed": 0}

    async def before_write(self, docs: list[Document]) -> list[Document]:
        return docs

    async def after_commit(self, docs: Sequence[Document]) -> None:
        firings: list[Firing] = []
        # Read per batch: `heroes relaunch confirm` writes them from another process.
        follows = chains(self.db.follows())
        for doc in docs:
            for rule in self.settings.rules:
                firing = evaluate(rule, doc, follows)
                if firing is not None:
                    firings.append(firing)
        self.counters["evaluated"] += len(docs)
        try:
            if firings:
                self.counters["fired"] += len(firings)
                if self.cluster is not None:
                    await asyncio.to_thread(self.cluster.import_near, firings, self.rules)
                changed = await asyncio.to_thread(
                    self.state.apply, firings, self.rules, time.time()
                )
                self.counters["alerts_changed"] += len(changed)
                ALERTS_RAISED.inc(len(changed))
            if self.cluster is not None:
                await asyncio.to_thread(self.cluster.publish, time.time())
            # Also catches up alerts whose documents a crash kept from reaching the spool.
            await asyncio.to_thread(self.state.spool_pending, self.append)
        except sqlite3.Error as exc:
            # The batch stays in the spool and is replayed (idempotently) once the alert
            # database answers again: the drain backs off as for a backend outage.
            raise BackendUnavailable(f"alert database {self.db.path}: {exc}") from exc

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.store.close()
        self.db.close()
