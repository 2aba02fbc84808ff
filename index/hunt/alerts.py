"""Raise the hunt's firings as alerts through the alert store, exactly once across reruns.

The firings go into the alert database the way the alert engine's do
(:class:`alerting.state.AlertState`): a firing whose (rule, document, version) was applied
before changes nothing, alert ids are deterministic, email is queued in the outbox (the
sender of any long-lived command delivers it) and the changed ``alert`` documents are
spooled. With a cluster alert store (the elasticsearch backend, ``alerts.cluster``) the
alerts near the firings are imported from the cluster first and the new ones published
there after, as the engine does, so the cluster keeps one alert and one email per hit.
A firing's version is the document's time, as the drain gives it, so a document
the hunt spools again, marked, does not alert a second time when the drain sees it.
Reads the ``alerts`` section and the alert database path (``data_dir``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from alerting.cluster_state import ClusterAlerts, ClusterAlertStore
from alerting.db import AlertDB
from alerting.rules import Firing
from alerting.state import AlertState
from config.sections.alerts import AlertRule, AlertSettings
from documents import Document
from errors import BackendUnavailable


class RetroAlerter:
    """Applies firings and spools the alert documents they changed."""

    def __init__(self, settings: AlertSettings, db_path: Path,
                 append: Callable[[Iterable[Document]], int],
                 cluster: ClusterAlertStore | None = None):
        self.db = AlertDB(db_path)
        self.state = AlertState(self.db, console_url=settings.console_url,
                                max_matched=settings.max_matched, cluster=cluster is not None)
        self.cluster = (
            ClusterAlerts(cluster, self.state, settings.console_url) if cluster else None
        )
        self.append = append

    def raise_alerts(self, firings: Sequence[Firing], rules: dict[str, AlertRule]) -> int:
        """Apply ``firings``; returns how many alerts were created or changed."""
        try:
            if firings and self.cluster is not None:
                self.cluster.import_near(firings, rules)
            changed = self.state.apply(firings, rules, time.time()) if firings else []
            if self.cluster is not None:
                self.cluster.publish(time.time())
            self.state.spool_pending(self.append)
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"alert database {self.db.path}: {exc}") from exc
        return len(changed)

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.store.close()
        self.db.close()
