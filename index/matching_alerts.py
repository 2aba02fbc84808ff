"""The ``quarantine`` alert: one per value the flood quarantine took, through the alert store.

The alert is recorded in the alert database like any rule's (alerting.state: deterministic
id, exactly once under replay, email through the outbox) under the built-in rule
:data:`RULE_NAME`, and its ``alert`` document is spooled. Its matched document is the
value's ``hash`` document. Email goes to the recipients of every ``hit`` rule that would
have alerted on the value's lists; with none, the alert is still recorded and searchable.
With a cluster store (``cluster``, alerting.cluster_state) the alert is the cluster's: its
window is the value's whole life (window start 0), so every machine quarantining the value
makes the same id, and it is published there with its messages (one email however many
machines quarantine the value). Reads the ``alerts`` settings section and the alert
database path (``data_dir``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from alerting.cluster_state import ClusterAlerts, ClusterAlertStore
from alerting.db import AlertDB
from alerting.rules import Firing
from alerting.state import AlertState
from config.sections.alerts import AlertRule, AlertSettings
from documents import Document, iso
from identifiers import display
from index.hashsets.importer import removed_documents
from index.hashsets.membership import MembershipStore
from index.hashsets.quarantine import QuarantinedValue

RULE_NAME = "flood-quarantine"
RULE_TYPE = "quarantine"


class QuarantineAlerter:
    """Raises quarantine alerts (the matching stage's ``quarantine_alerts``)."""

    def __init__(
        self,
        settings: AlertSettings,
        db_path: Path,
        append: Callable[[Iterable[Document]], int],
        *,
        flood_hits: int,
        flood_window_s: float,
        cluster: ClusterAlertStore | None = None,
    ):
        self.settings = settings
        self.cluster = cluster
        self.db_path = db_path
        self._db: AlertDB | None = None
        self.append = append
        self.flood_hits = flood_hits
        self.flood_window_s = flood_window_s

    @property
    def state(self) -> AlertState:
        # Opened when first needed: most drains never quarantine anything.
        if self._db is None:
            self._db = AlertDB(self.db_path)
        return AlertState(
            self._db, console_url=self.settings.console_url, max_matched=self.settings.max_matched,
            cluster=self.cluster is not None, webhooks=self.settings.webhook.urls,
        )

    def raise_alerts(self, values: Sequence[QuarantinedValue], store: MembershipStore) -> None:
        state = self.state
        shared = (
            ClusterAlerts(self.cluster, state, self.settings.console_url) if self.cluster else None
        )
        for q in values:
            entries = store.lookup(q.type, q.value)
            lists = sorted({e.list for e in entries})
            rule = self._rule(lists)
            since = datetime.fromtimestamp(q.since, UTC)
            doc_kind, doc_id = (
                removed_documents(entries[:1])[0] if entries else ("hash", f"{q.type}:{q.value}")
            )
            shown = display(q.type, q.value)
            summary = (
                f"flood quarantine: {q.type} {shown} (list {', '.join(lists) or '-'}) had more "
                f"than {self.flood_hits} hits within {self.flood_window_s:g}s; its hits are held "
                "until an admin runs heroes hashes quarantine release or remove"
            )
            facts = (
                ("Value", f"{q.type} {shown}"),
                ("Lists", ", ".join(lists) or "-"),
                ("Quarantined", iso(since)),
                ("Rule", f"more than {self.flood_hits} hits within {self.flood_window_s:g}s"),
            )
            firing = Firing(
                rule=rule.name,
                rule_type=RULE_TYPE,
                doc_kind=doc_kind,
                doc_id=doc_id,
                version=iso(since),
                time=since,
                key=f"{q.type}:{q.value}",
                summary=summary,
                facts=facts,
                window_anchor=0.0 if shared else None,
            )
            if shared is not None:  # another machine may have quarantined the value first
                shared.import_near([firing], {rule.name: rule})
            # One at a time: each value's alert goes to the recipients of its own lists.
            state.apply([firing], {rule.name: rule}, time.time())
        if shared is not None:
            shared.publish(time.time())
        state.spool_pending(self.append)

    def _rule(self, lists: list[str]) -> AlertRule:
        recipients = sorted(
            {
                to
                for rule in self.settings.rules
                if rule.type == "hit" and (not rule.lists or set(rule.lists) & set(lists))
                for to in rule.recipients
            }
        )
        return AlertRule(
            name=RULE_NAME, type="hit", recipients=recipients, severity="high", realert_s=0
        )

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
        if self._db is not None:
            self._db.close()
            self._db = None
