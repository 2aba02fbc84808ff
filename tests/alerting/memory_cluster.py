"""An in-memory :class:`~alerting.cluster_state.ClusterAlertStore` for unit tests of the logic.

It keeps a sequence number per document and refuses a conditional write over a changed one,
as the cluster does (409), and a create over an existing id. The live behaviour on a real
cluster is tested against Elasticsearch (test_cluster_alerts*.py).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from typing import Any

from alerting.cluster_store import Versioned


def _mid(mid: str) -> str:
    return hashlib.sha256(mid.encode()).hexdigest()[:40]


class MemoryCluster:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {
            "alert": {}, "message": {}, "digest": {}}
        self.seq = 0
        self.closed = 0

    def _put(self, kind: str, doc_id: str, source: dict[str, Any]) -> Versioned:
        self.seq += 1
        self.docs[kind][doc_id] = (self.seq, copy.deepcopy(source))
        return Versioned(doc_id, copy.deepcopy(source), self.seq, 1)

    def create(self, kind: str, doc_id: str, doc: dict[str, Any]) -> bool:
        if doc_id in self.docs[kind]:
            return False
        self._put(kind, doc_id, doc)
        return True

    def get(self, kind: str, doc_id: str) -> Versioned | None:
        found = self.docs[kind].get(doc_id)
        return None if found is None else Versioned(doc_id, copy.deepcopy(found[1]), found[0], 1)

    def replace(self, doc: Versioned, source: dict[str, Any], *, kind: str) -> Versioned | None:
        found = self.docs[kind].get(doc.id)
        if found is None or found[0] != doc.seq_no:
            return None
        return self._put(kind, doc.id, source)

    def _all(self, kind: str) -> list[Versioned]:
        return [v for v in (self.get(kind, i) for i in list(self.docs[kind])) if v is not None]

    def recent_alerts(self, pairs: Sequence[tuple[str, str]], since: float, until: float
                      ) -> list[dict[str, Any]]:
        return [v.source for v in self._all("alert")
                if (v.source["rule"], v.source["key"]) in set(pairs)
                and since <= v.source["window_start"] <= until]

    def create_alert(self, alert_id: str, doc: dict[str, Any]) -> bool:
        return self.create("alert", alert_id, doc)

    def alerts(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        return [v.source for v in (self.get("alert", i) for i in ids) if v is not None]

    def create_messages(self, docs: Sequence[dict[str, Any]]) -> int:
        return sum(self.create("message", _mid(d["message_id"]), d) for d in docs)

    def due_messages(self, now: float, limit: int) -> list[Versioned]:
        due = [v for v in self._all("message")
               if (v.source["status"] == "queued" and v.source["next_attempt"] <= now)
               or (v.source["status"] == "sending" and v.source["lease_until"] <= now)]
        return sorted(due, key=lambda v: (v.source["created_at"], v.source["message_id"]))[:limit]

    def digests_holding(self, rule: str, alert_id: str) -> list[Versioned]:
        return [v for v in self._all("digest")
                if v.source["rule"] == rule and alert_id in v.source["alert_ids"]]

    def due_digests(self, now: float, limit: int) -> list[Versioned]:
        return [v for v in self._all("digest")
                if (v.source["status"] == "open" and v.source["due"] <= now)
                or v.source["status"] == "composed"][:limit]

    def get_alert(self, alert_id: str) -> Versioned | None:
        return self.get("alert", alert_id)

    def get_message(self, mid: str) -> Versioned | None:
        return self.get("message", _mid(mid))

    def close(self) -> None:
        self.closed += 1

    def sources(self, kind: str) -> list[dict[str, Any]]:
        return [v.source for v in self._all(kind)]
