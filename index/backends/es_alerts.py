"""Alerts and their email in the Elasticsearch cluster (alerting.cluster_state's store).

Three indices beside the document indices, ``<prefix>_alert_claims`` (one document per
alert, created with ``op_type=create`` under the alert's deterministic id),
``<prefix>_alert_outbox`` (one per email or webhook POST, id from its Message-ID, also
created only if absent) and ``<prefix>_alert_digests`` (one per digest rule and time
bucket, alerting.cluster_digest). Claims, digests and deliveries change by conditional
writes (``if_seq_no`` and ``if_primary_term``): the cluster refuses a write over a document
somebody changed since it was read (409), which is how two senders never both own one
message and no machine's addition to a digest is lost. These writes wait for a
refresh: alerts are few and the next sender's search must see them.

:func:`cluster_alerts_for` gives the store when ``index.backend`` is ``elasticsearch`` and
``alerts.cluster`` is on, else ``None``. Reads
:class:`~config.sections.index.ElasticsearchSettings` (hosts, credentials, index_prefix,
shards, replicas, timeouts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import elastic_transport
from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exc

from alerting.cluster_store import Versioned
from config import Settings
from config.sections.index import ElasticsearchSettings
from index.backends.elasticsearch import _unavailable, client_options

_FAILURES = (es_exc.ApiError, elastic_transport.TransportError)

_CLAIM_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "rule": {"type": "keyword"},
        "key": {"type": "keyword"},
        "window_start": {"type": "double"},
        "status": {"type": "keyword"},
        "record": {"type": "keyword", "index": False, "doc_values": False},
    },
}
_MESSAGE_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "message_id": {"type": "keyword"},
        "status": {"type": "keyword"},
        "next_attempt": {"type": "double"},
        "lease_until": {"type": "double"},
        "created_at": {"type": "double"},
        "owner": {"type": "keyword"},
        "channel": {"type": "keyword"},
    },
}
_DIGEST_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "rule": {"type": "keyword"},
        "bucket": {"type": "long"},
        "due": {"type": "double"},
        "status": {"type": "keyword"},
        "alert_ids": {"type": "keyword"},
        "created_at": {"type": "double"},
    },
}


def _doc_id(mid: str) -> str:
    return hashlib.sha256(mid.encode()).hexdigest()[:40]


class EsClusterAlerts:
    """:class:`~alerting.cluster_state.ClusterAlertStore` on an Elasticsearch cluster."""

    def __init__(self, settings: ElasticsearchSettings):
        self.settings = settings
        self.claims = f"{settings.index_prefix}_alert_claims"
        self.outbox = f"{settings.index_prefix}_alert_outbox"
        self.digests = f"{settings.index_prefix}_alert_digests"
        self._indices = {"alert": self.claims, "message": self.outbox, "digest": self.digests}
        self._client: Elasticsearch | None = None

    @property
    def client(self) -> Elasticsearch:
        if self._client is None:
            client = Elasticsearch(list(self.settings.hosts), **client_options(self.settings))
            for index, mapping in ((self.claims, _CLAIM_MAPPING),
                                   (self.outbox, _MESSAGE_MAPPING),
                                   (self.digests, _DIGEST_MAPPING)):
                self._ensure(client, index, mapping)
            self._client = client
        return self._client

    def _ensure(self, client: Elasticsearch, index: str, mapping: dict[str, Any]) -> None:
        try:
            if client.indices.exists(index=index):
                return
            client.indices.create(index=index, mappings=mapping, settings={
                "number_of_shards": 1, "number_of_replicas": self.settings.replicas})
        except es_exc.BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":  # another machine made it
                client.close()
                raise _unavailable(exc, f"create index {index}") from exc
        except _FAILURES as exc:
            client.close()
            raise _unavailable(exc, f"create index {index}") from exc

    def recent_alerts(self, pairs: Sequence[tuple[str, str]], since: float, until: float
                      ) -> list[dict[str, Any]]:
        should = [{"bool": {"filter": [{"term": {"rule": r}}, {"term": {"key": k}}]}}
                  for r, k in pairs]
        query = {"bool": {"filter": [{"range": {"window_start": {"gte": since, "lte": until}}}],
                          "should": should, "minimum_should_match": 1}}
        try:
            resp = self.client.search(index=self.claims, query=query, size=1000)
        except _FAILURES as exc:
            raise _unavailable(exc, "read cluster alerts") from exc
        return [h["_source"] for h in resp["hits"]["hits"]]

    def create_alert(self, alert_id: str, doc: dict[str, Any]) -> bool:
        return self._create(self.claims, alert_id, doc)

    def alerts(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        try:
            resp = self.client.mget(index=self.claims, ids=list(ids))
        except _FAILURES as exc:
            raise _unavailable(exc, "read cluster alerts") from exc
        return [d["_source"] for d in resp["docs"] if d.get("found")]

    def create(self, kind: str, doc_id: str, doc: dict[str, Any]) -> bool:
        return self._create(self._indices[kind], doc_id, doc)

    def get(self, kind: str, doc_id: str) -> Versioned | None:
        return self._get(self._indices[kind], doc_id)

    def digests_holding(self, rule: str, alert_id: str) -> list[Versioned]:
        query = {"bool": {"filter": [{"term": {"rule": rule}}, {"term": {"alert_ids": alert_id}}]}}
        return self._search(self.digests, query, 10, "read cluster digests")

    def due_digests(self, now: float, limit: int) -> list[Versioned]:
        query = {"bool": {"should": [
            {"bool": {"filter": [{"term": {"status": "open"}}, {"range": {"due": {"lte": now}}}]}},
            {"term": {"status": "composed"}},
        ], "minimum_should_match": 1}}
        return self._search(self.digests, query, limit, "read cluster digests",
                            sort=[{"due": "asc"}, {"bucket": "asc"}])

    def _search(self, index: str, query: dict[str, Any], size: int, what: str,
                sort: list[dict[str, str]] | None = None) -> list[Versioned]:
        try:
            resp = self.client.search(index=index, query=query, size=size,
                                      seq_no_primary_term=True, sort=sort)
        except _FAILURES as exc:
            raise _unavailable(exc, what) from exc
        return [_versioned(h) for h in resp["hits"]["hits"]]

    def create_messages(self, docs: Sequence[dict[str, Any]]) -> int:
        return sum(self._create(self.outbox, _doc_id(d["message_id"]), d) for d in docs)

    def _create(self, index: str, doc_id: str, doc: dict[str, Any]) -> bool:
        try:
            self.client.create(index=index, id=doc_id, document=doc, refresh="wait_for")
        except es_exc.ConflictError:
            return False
        except _FAILURES as exc:
            raise _unavailable(exc, f"create {index}/{doc_id}") from exc
        return True

    def due_messages(self, now: float, limit: int) -> list[Versioned]:
        query = {"bool": {"should": [
            {"bool": {"filter": [{"term": {"status": "queued"}},
                                 {"range": {"next_attempt": {"lte": now}}}]}},
            {"bool": {"filter": [{"term": {"status": "sending"}},
                                 {"range": {"lease_until": {"lte": now}}}]}},
        ], "minimum_should_match": 1}}
        return self._search(self.outbox, query, limit, "read the cluster outbox",
                            sort=[{"created_at": "asc"}, {"message_id": "asc"}])

    def replace(self, doc: Versioned, source: dict[str, Any], *, kind: str) -> Versioned | None:
        index = self._indices[kind]
        try:
            resp = self.client.index(index=index, id=doc.id, document=source,
                                     if_seq_no=doc.seq_no, if_primary_term=doc.primary_term,
                                     refresh="wait_for")
        except es_exc.ConflictError:
            return None
        except _FAILURES as exc:
            raise _unavailable(exc, f"update {index}/{doc.id}") from exc
        return Versioned(doc.id, source, resp["_seq_no"], resp["_primary_term"])

    def get_alert(self, alert_id: str) -> Versioned | None:
        return self._get(self.claims, alert_id)

    def get_message(self, mid: str) -> Versioned | None:
        return self._get(self.outbox, _doc_id(mid))

    def _get(self, index: str, doc_id: str) -> Versioned | None:
        try:
            resp = self.client.get(index=index, id=doc_id)
        except es_exc.NotFoundError:
            return None
        except _FAILURES as exc:
            raise _unavailable(exc, f"read {index}/{doc_id}") from exc
        return _versioned(resp)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def _versioned(hit: dict[str, Any]) -> Versioned:
    return Versioned(hit["_id"], hit["_source"], hit["_seq_no"], hit["_primary_term"])


def cluster_alerts_for(settings: Settings) -> EsClusterAlerts | None:
    """The cluster's alert store of this installation, or ``None`` when alerts stay local."""
    if settings.index.backend != "elasticsearch" or not settings.alerts.cluster:
        return None
    return EsClusterAlerts(settings.elasticsearch)

