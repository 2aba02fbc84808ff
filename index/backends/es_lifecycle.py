"""Elasticsearch index lifecycle: per-kind templates, the ILM policy and whole-index retention.

Layout stays monthly (``<prefix>-<kind>-YYYY.MM``, see :mod:`index.backends.es_mappings`)
rather than rollover: an index's name then says which document times it holds, so retention
can drop an index whole by its name and one count, and a document keeps a deterministic home
(needed to find and merge it by id); rollover indices hold whatever arrived between two
rollovers, so their age says nothing about the documents' own times.

- Templates: one composable ``_index_template`` per kind, shards and replicas from
  ``[elasticsearch.kinds.<kind>]`` (falling back to ``elasticsearch.shards/replicas``),
  ``elasticsearch.refresh_interval``, and, for ``page`` when ILM is used, the policy name.
- ILM (``elasticsearch.ilm``): a cluster with index lifecycle management gets a policy per
  kind in :data:`ILM_KINDS` that deletes an index ``[retention] <kind>_days`` after its month
  ended (each monthly index is created with its ``index.lifecycle.origination_date`` set to
  its month's end). Only kinds whose month is chosen by their retention time qualify: an
  observation's month is its first sighting, but it is kept by its last. Without ILM (the
  minimal test distribution) retention is left to :func:`old_indices` / ``heroes index purge``,
  and a log line says so.
- Retention: an index of a monthly kind whose every document is older than the limit is
  dropped whole (one DELETE); documents of the boundary month are deleted one by one by the
  caller.

Reads :class:`~config.sections.index.ElasticsearchSettings` (shards, replicas, kinds,
refresh_interval, ilm, index_prefix) and :class:`~config.sections.console.RetentionSettings`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import elastic_transport
from elasticsearch import AsyncElasticsearch
from elasticsearch import exceptions as es_exc

from config.sections.console import RetentionSettings
from config.sections.index import ElasticsearchSettings
from documents import KINDS
from errors import BackendUnavailable
from index.backends import es_mappings as layout

log = logging.getLogger(__name__)

# Monthly kinds whose month is picked by the same time retention keeps them by.
ILM_KINDS = tuple(k for k, f in layout.MONTHLY.items() if KINDS[k].TIME_FIELD == f)


class LifecycleUnavailable(BackendUnavailable):
    """``elasticsearch.ilm = "on"`` but the cluster has no index lifecycle management."""


@dataclass(frozen=True)
class OldIndex:
    """A monthly index all of whose documents are older than the retention limit."""

    name: str
    documents: int


def shape(settings: ElasticsearchSettings, kind: str) -> tuple[int, int]:
    """Primary shards and replicas of a kind's new indices."""
    own = getattr(settings.kinds, kind)
    shards = own.shards or settings.shards
    replicas = settings.replicas if own.replicas < 0 else own.replicas
    return shards, replicas


def policy_name(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}-retention"


def policy_for(days: int) -> dict[str, Any]:
    """The ILM policy body: delete an index ``days`` after its origination (its month's end)."""
    return {"phases": {"hot": {"min_age": "0ms", "actions": {}},
                       "delete": {"min_age": f"{days}d", "actions": {"delete": {}}}},
            "_meta": {"managed_by": "heroes"}}


def template_for(settings: ElasticsearchSettings, kind: str, *, policy: str | None
                 ) -> dict[str, Any]:
    """``put_index_template`` arguments, with a fingerprint of everything settings decide."""
    extra: dict[str, Any] = {}
    if settings.refresh_interval:
        extra["refresh_interval"] = settings.refresh_interval
    if policy:
        extra["lifecycle"] = {"name": policy}
    shards, replicas = shape(settings, kind)
    spec = layout.template_for(settings.index_prefix, kind, shards=shards, replicas=replicas,
                               extra=extra)
    spec["meta"]["heroes_fingerprint"] = fingerprint(spec)
    return spec


def fingerprint(spec: dict[str, Any]) -> str:
    body = {k: v for k, v in spec.items() if k != "meta"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def creation_settings(prefix: str, index: str, *, ilm: bool) -> dict[str, Any]:
    """Settings of one new index: a monthly index under ILM ages from its month's end."""
    for kind in ILM_KINDS if ilm else ():
        month = layout.month_of(prefix, kind, index)
        if month is not None:
            return {"index": {"lifecycle": {
                "origination_date": int(month[1].timestamp() * 1000)}}}
    return {}


async def has_ilm(client: AsyncElasticsearch) -> bool:
    """Whether the cluster serves index lifecycle management (the test distribution does not)."""
    try:
        await client.ilm.get_status()
    except es_exc.ApiError as exc:
        if exc.status_code in (400, 404, 405, 410, 501):
            return False
        raise
    return True


class Lifecycle:
    """Decides, once per writer, whether ILM is used, and installs the policies it needs."""

    def __init__(self, settings: ElasticsearchSettings, retention: RetentionSettings | None):
        self.settings = settings
        self.retention = retention or RetentionSettings()
        self.ilm = False

    def _days(self, kind: str) -> int:
        return int(getattr(self.retention, f"{kind}_days", 0))

    def policy(self, kind: str) -> str | None:
        """The policy a kind's template names, if any."""
        if self.ilm and kind in ILM_KINDS and self._days(kind):
            return policy_name(self.settings.index_prefix, kind)
        return None

    async def prepare(self, client: AsyncElasticsearch) -> None:
        mode = self.settings.ilm
        if mode == "off":
            log.info("elasticsearch: lifecycle management off (elasticsearch.ilm); "
                     "retention runs in `heroes index purge`")
            return
        try:
            available = await has_ilm(client)
            if not available:
                if mode == "on":
                    raise LifecycleUnavailable(
                        "elasticsearch.ilm = \"on\" but the cluster has no index lifecycle "
                        "management; set elasticsearch.ilm = \"auto\" or \"off\"")
                log.info("elasticsearch: the cluster has no index lifecycle management; "
                         "retention runs in `heroes index purge` instead")
                return
            self.ilm = True
            for kind in ILM_KINDS:
                days = self._days(kind)
                if days:
                    name = policy_name(self.settings.index_prefix, kind)
                    await client.ilm.put_lifecycle(name=name, policy=policy_for(days))
                    log.info("elasticsearch: lifecycle policy %s deletes %s indices %d days "
                             "after their month", name, kind, days)
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise BackendUnavailable(
                f"elasticsearch: setting up index lifecycle management: {exc}") from exc


async def old_indices(client: AsyncElasticsearch, prefix: str, kind: str, before: datetime
                      ) -> list[OldIndex]:
    """The kind's monthly indices whose month ended by ``before`` and that hold nothing newer.

    The count of documents at or after ``before`` guards kinds kept by another time than
    their month's (an observation seen again lately stays, with its index).
    """
    if kind not in layout.MONTHLY:
        return []
    field = KINDS[kind].TIME_FIELD
    names = await client.indices.get_settings(index=layout.index_pattern(prefix, kind),
                                              allow_no_indices=True, ignore_unavailable=True,
                                              expand_wildcards="open")
    out: list[OldIndex] = []
    for name in sorted(names.body):
        month = layout.month_of(prefix, kind, name)
        if month is None or month[1] > before:
            continue
        # Counts read what is refreshed: a recent write must not be missed.
        await client.indices.refresh(index=name)
        newer = await client.count(index=name,
                                   query={"range": {field: {"gte": before.isoformat()}}})
        if int(newer["count"]):
            continue
        total = await client.count(index=name)
        out.append(OldIndex(name, int(total["count"])))
    return out


async def drop(client: AsyncElasticsearch, indices: list[OldIndex]) -> None:
    """Delete each index whole, one request each."""
    for old in indices:
        await client.indices.delete(index=old.name, ignore_unavailable=True)
        log.info("retention: index %s dropped (%d documents)", old.name, old.documents)
