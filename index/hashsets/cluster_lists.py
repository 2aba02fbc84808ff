"""Hash lists in the Elasticsearch cluster, so that every machine matches the same lists.

An import publishes its list (:meth:`ClusterLists.publish`): the list's entries go to
``<prefix>_hash_entries`` (one document per list, type and value) and its settings and a
generation number to ``<prefix>_hash_lists``; the generation is raised by a conditional write
(``if_seq_no``/``if_primary_term``, retried on 409), so two machines publishing at once both
count. Each machine's drain follows (:class:`ClusterListsStage`, before matching): every
``matching.reload_check_s`` it reads the generations and copies each changed list into its
local membership store, which stays the matcher's fast copy (entries the cluster no longer
has are dropped from it). A list removed on one machine is not yet removed elsewhere.

:func:`cluster_lists_for` gives the store when ``index.backend`` is ``elasticsearch`` and
``matching.cluster_lists`` is on. Reads ``elasticsearch`` (hosts, credentials,
index_prefix, replicas, timeouts), ``matching.reload_check_s`` and ``data_dir``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import elastic_transport
from elasticsearch import Elasticsearch, helpers
from elasticsearch import exceptions as es_exc

from config import Settings
from config.sections.index import ElasticsearchSettings
from documents import Document
from index.backends.elasticsearch import _unavailable, client_options
from index.hashsets.lists import ListInfo
from index.hashsets.membership import Entry, MembershipStore

log = logging.getLogger(__name__)

_FAILURES = (es_exc.ApiError, elastic_transport.TransportError)
_PAGE = 5000
_ENTRY_FIELDS = ("list", "type", "value", "category", "entry", "added_at")
_ENTRIES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"key": {"type": "keyword"}, "list": {"type": "keyword"}},
}
_LISTS_MAPPING: dict[str, Any] = {"dynamic": False, "properties": {
    "generation": {"type": "long"}}}


def _entry_id(e: Entry) -> str:
    return hashlib.sha256(f"{e.list}\0{e.type}\0{e.value}".encode()).hexdigest()[:40]


# The mark a withdrawn list's generation document carries instead of its settings.
REMOVED = "removed"


class ClusterLists:
    """The cluster's hash lists (publish one, read what changed)."""

    def __init__(self, settings: ElasticsearchSettings):
        self.settings = settings
        self.entries = f"{settings.index_prefix}_hash_entries"
        self.lists = f"{settings.index_prefix}_hash_lists"
        self._client: Elasticsearch | None = None

    @property
    def client(self) -> Elasticsearch:
        if self._client is None:
            client = Elasticsearch(list(self.settings.hosts), **client_options(self.settings))
            try:
                for index, mapping in ((self.entries, _ENTRIES_MAPPING),
                                       (self.lists, _LISTS_MAPPING)):
                    if not client.indices.exists(index=index):
                        try:
                            client.indices.create(index=index, mappings=mapping, settings={
                                "number_of_replicas": self.settings.replicas})
                        except es_exc.BadRequestError as exc:
                            if exc.error != "resource_already_exists_exception":
                                raise
            except _FAILURES as exc:
                client.close()
                raise _unavailable(exc, "create the hash-list indices") from exc
            self._client = client
        return self._client

    def publish(self, members: MembershipStore, name: str) -> int:
        """Put the local list ``name`` (entries and settings) into the cluster; returns its
        new generation."""
        entries = members.entries_of_list(name)
        wanted = {_entry_id(e): e for e in entries}
        try:
            stale = [i for i in self._ids_of(name) if i not in wanted]
            actions: list[dict[str, Any]] = [
                {"_op_type": "index", "_index": self.entries, "_id": i,
                 "_source": {**dataclasses.asdict(e), "key": i}}
                for i, e in wanted.items()
            ]
            actions += [{"_op_type": "delete", "_index": self.entries, "_id": i} for i in stale]
            helpers.bulk(self.client, actions, refresh="wait_for")
            return self._bump(name, dataclasses.asdict(members.list_info(name)), len(entries))
        except (*_FAILURES, helpers.BulkIndexError) as exc:
            raise _unavailable(exc, f"publish hash list {name!r}") from exc

    def withdraw(self, name: str) -> int:
        """Remove list ``name`` from the cluster: its entries go, and its generation is bumped
        with a ``removed`` mark so that every follower drops the list too."""
        try:
            actions = [{"_op_type": "delete", "_index": self.entries, "_id": i}
                       for i in self._ids_of(name)]
            if actions:
                helpers.bulk(self.client, actions, refresh="wait_for")
            return self._bump(name, {REMOVED: True}, 0)
        except (*_FAILURES, helpers.BulkIndexError) as exc:
            raise _unavailable(exc, f"withdraw hash list {name!r}") from exc

    def _bump(self, name: str, info: dict[str, Any], count: int) -> int:
        while True:
            try:
                found = self.client.get(index=self.lists, id=name)
            except es_exc.NotFoundError:
                doc = {"name": name, "generation": 1, "info": info, "count": count}
                try:
                    self.client.create(index=self.lists, id=name, document=doc,
                                       refresh="wait_for")
                    return 1
                except es_exc.ConflictError:
                    continue
            generation = found["_source"]["generation"] + 1
            doc = {"name": name, "generation": generation, "info": info, "count": count}
            try:
                self.client.index(index=self.lists, id=name, document=doc,
                                  if_seq_no=found["_seq_no"],
                                  if_primary_term=found["_primary_term"], refresh="wait_for")
                return generation
            except es_exc.ConflictError:
                continue  # published elsewhere at the same moment: count on top of it

    def generations(self) -> dict[str, tuple[int, dict[str, Any]]]:
        """Each list's generation and settings."""
        try:
            resp = self.client.search(index=self.lists, size=10_000)
        except _FAILURES as exc:
            raise _unavailable(exc, "read the hash lists") from exc
        return {h["_id"]: (h["_source"]["generation"], h["_source"].get("info", {}))
                for h in resp["hits"]["hits"]}

    def _hits_of(self, name: str, source: bool) -> Iterator[dict[str, Any]]:
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"query": {"term": {"list": name}}, "size": _PAGE,
                                    "sort": [{"key": "asc"}], "_source": source}
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(index=self.entries, **body)["hits"]["hits"]
            yield from hits
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]

    def _ids_of(self, name: str) -> list[str]:
        return [h["_id"] for h in self._hits_of(name, False)]

    def entries_of(self, name: str) -> list[Entry]:
        try:
            return [Entry(*(h["_source"][f] for f in _ENTRY_FIELDS))
                    for h in self._hits_of(name, True)]
        except _FAILURES as exc:
            raise _unavailable(exc, f"read hash list {name!r}") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


class ListFollower:
    """Copies the cluster's changed lists into one local membership store."""

    def __init__(self, cluster: ClusterLists, members_path: Path):
        self.cluster = cluster
        self.members_path = members_path
        self.seen: dict[str, int] = {}

    def follow(self) -> list[str]:
        """Bring every changed list up to date locally; returns their names."""
        changed = [(n, g, info) for n, (g, info) in self.cluster.generations().items()
                   if self.seen.get(n) != g]
        if not changed:
            return []
        members = MembershipStore(self.members_path)
        try:
            for name, generation, info in changed:
                if info.get(REMOVED):
                    if members.remove_list(name):
                        log.info("hash list %s removed, as the cluster says (generation %d)",
                                 name, generation)
                    self.seen[name] = generation
                    continue
                entries = self.cluster.entries_of(name)
                keep = {(e.type, e.value) for e in entries}
                gone = [e for e in members.entries_of_list(name) if (e.type, e.value) not in keep]
                if gone:
                    # Rebuilt rather than trimmed: the store forgets values only per list.
                    members.remove_list(name)
                settings = {k: v for k, v in info.items()
                            if k in {f.name for f in dataclasses.fields(ListInfo)} - {"name"}}
                if settings and ListInfo(name, **settings) != members.list_info(name):
                    members.set_list(name, **settings)
                members.upsert(entries)
                self.seen[name] = generation
                log.info("hash list %s followed from the cluster (generation %d, %d values)",
                         name, generation, len(entries))
        finally:
            members.close()
        return [n for n, _, _ in changed]


class ClusterListsStage:
    """DrainStage (before matching): follows the cluster's lists every reload_check_s."""

    name = "cluster-lists"

    def __init__(self, cluster: ClusterLists, members_path: Path, check_s: float):
        self.follower = ListFollower(cluster, members_path)
        self.check_s = check_s
        self._checked_at = float("-inf")

    async def before_write(self, docs: list[Document]) -> list[Document]:
        now = time.monotonic()
        if now - self._checked_at >= self.check_s:
            await asyncio.to_thread(self.follower.follow)
            self._checked_at = now
        return docs

    async def after_commit(self, docs: Any) -> None:
        return None

    def close(self) -> None:
        self.follower.cluster.close()


def cluster_lists_for(settings: Settings) -> ClusterLists | None:
    """The cluster's hash lists of this installation, or ``None`` when lists stay local."""
    if settings.index.backend != "elasticsearch" or not settings.matching.cluster_lists:
        return None
    return ClusterLists(settings.elasticsearch)
