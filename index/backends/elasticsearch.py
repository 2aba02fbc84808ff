"""The Elasticsearch backend: the same interface and results as the embedded one, on a cluster.

Built on the official async client (``elasticsearch[async]`` 9.x, so the cluster must be
Elasticsearch 9.x). Index layout, mappings and text analysis are in
:mod:`index.backends.es_mappings`; queries are compiled by :func:`query.dsl.to_dsl`.

Writes go through ``helpers.async_streaming_bulk`` to each document's concrete index (never
through an alias). Kinds that merge versions are written by :mod:`index.backends.es_merge`
(real-time reads with ``_seq_no``, conditional writes, re-merge on 409; the drain's merge
read, :meth:`read_for_merge`, is the read its write quotes), so any number of
drainers may write one cluster at once (:attr:`concurrent_writers`); the other kinds are
plain ``index`` ops. Outcomes per document:

- accepted: committed (the bulk request returns after the translog is synced) when
  :meth:`write` returns; :meth:`get` reads it at once (real-time gets), searches after the
  index's refresh interval (``elasticsearch.refresh_interval``) or after :meth:`refresh`;
- refused by the mapping (bad value, type conflict, ...): returned as
  :class:`~index.backends.base.Rejected` with Elasticsearch's reason; the drain sets it aside;
- answered 429 or 5xx: retried with exponential backoff; still failing, or the cluster
  unreachable: :class:`~errors.BackendUnavailable`, so the whole batch stays in the spool.

Needs no ingest pipeline, script, data stream or ``_delete_by_query``, so it also runs on
Elasticsearch's minimal test distribution.

Reads :class:`~config.sections.index.ElasticsearchSettings`: hosts, username, password,
api_key, ca_certs, verify_certs, index_prefix, shards, replicas, request_timeout_s,
max_retries, bulk_chunk_size, bulk_max_retries, retry_initial_backoff_s, retry_max_backoff_s,
write_refresh; templates, ILM and whole-index retention (kinds, refresh_interval, ilm, and
``[retention]``) are in :mod:`index.backends.es_lifecycle`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import elastic_transport
from elasticsearch import AsyncElasticsearch, helpers
from elasticsearch import exceptions as es_exc

from config.sections.console import RetentionSettings
from config.sections.index import ElasticsearchSettings
from documents import KINDS, Document, FieldType
from errors import BackendUnavailable, QueryError
from index.backends import es_lifecycle as lifecycle
from index.backends import es_mappings as layout
from index.backends.base import Backend, Rejected
from index.backends.es_merge import Copy, MergeCounters, MergeWriter, is_merged
from query.dsl import to_dsl
from query.model import Search, SearchResult, TermsAgg
from query.validate import SCORE, field_type, validate_search

log = logging.getLogger(__name__)

RETRY_STATUS = (429, 502, 503, 504)
# Ids looked up per request (below index.max_result_window).
SHARD_WAIT_ATTEMPTS = 3
# A starting primary is polled from 50 ms up to 1 s apart: started in a few hundred ms on an
# idle node, seconds on a busy one.
PRIMARY_POLL_FIRST_S = 0.05
PRIMARY_POLL_MAX_S = 1.0
LOOKUP_CHUNK = 5000
_LONG_MAX = 2**63 - 1
_LONG_MIN = -(2**63)


class IncompatibleMapping(BackendUnavailable):
    """An existing index cannot take the current mapping (a field changed type)."""


REASON_MAX = 400


def _starting_primaries(health_indices: dict[str, Any], indices: Sequence[str]) -> set[str]:
    """Those of ``indices`` whose primaries are not all active in a ``level=indices`` health
    answer (an index the answer does not name is taken as starting)."""
    starting = set()
    for index in indices:
        entry = health_indices.get(index)
        if entry is None or entry.get("active_primary_shards", 0) < entry.get(
                "number_of_shards", 1):
            starting.add(index)
    return starting


def _reason(error: Any) -> str:
    """Elasticsearch's explanation of a refused document, short and on one line."""
    if not isinstance(error, dict):
        return str(error)[:REASON_MAX]
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        # The parser's message goes on to quote the whole document: keep its first line.
        detail = str(cause.get("reason", "")).split("\n")[0]
        text += f" (caused by {cause.get('type')}: {detail})"
    return text if len(text) <= REASON_MAX else text[:REASON_MAX - 3] + "..."


def _unavailable(exc: Exception, doing: str) -> BackendUnavailable:
    if isinstance(exc, es_exc.ApiError):
        detail = f"HTTP {exc.status_code} {exc.message}"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return BackendUnavailable(f"elasticsearch: {doing}: {detail}")


def client_options(s: ElasticsearchSettings) -> dict[str, Any]:
    """Keyword arguments of an Elasticsearch client (async or not) for these settings."""
    kwargs: dict[str, Any] = {
        "request_timeout": s.request_timeout_s,
        "max_retries": s.max_retries,
        "retry_on_status": RETRY_STATUS,
        "retry_on_timeout": True,
        "retry_backoff_base": s.retry_initial_backoff_s,
        "retry_backoff_cap": s.retry_max_backoff_s,
        "verify_certs": s.verify_certs,
    }
    if s.ca_certs:
        kwargs["ca_certs"] = s.ca_certs
    if s.api_key.get_secret_value():
        kwargs["api_key"] = s.api_key.get_secret_value()
    elif s.username:
        kwargs["basic_auth"] = (s.username, s.password.get_secret_value())
    return kwargs


class ElasticsearchBackend(Backend):
    """Documents and searches on an Elasticsearch 9 cluster."""

    name = "elasticsearch"
    # Merges are conditional writes: drainers on several machines need no shared lock.
    concurrent_writers = True

    def __init__(self, settings: ElasticsearchSettings,
                 retention: RetentionSettings | None = None):
        self.settings = settings
        self.prefix = settings.index_prefix
        self.lifecycle = lifecycle.Lifecycle(settings, retention)
        self._client: AsyncElasticsearch | None = None
        self._writer = False
        self.merge_counters = MergeCounters()
        self._ready_kinds: set[str] = set()
        self._known_indices: set[str] = set()
        self._started_indices: set[str] = set()
        # Copies the drain read to merge (read_for_merge), for the write that follows.
        self._read_ahead: dict[tuple[str, str], list[Copy]] = {}

    # --- lifecycle ---------------------------------------------------------------------

    def _make_client(self) -> AsyncElasticsearch:
        return AsyncElasticsearch(list(self.settings.hosts), **client_options(self.settings))

    @property
    def client(self) -> AsyncElasticsearch:
        if self._client is None:
            raise BackendUnavailable("elasticsearch backend used before open()")
        return self._client

    async def open(self, *, writer: bool) -> None:
        if self._client is None:
            self._client = self._make_client()
        self._writer = writer
        try:
            # Not GET /: minimal distributions do not serve it. Health also proves the
            # product header (the client refuses anything that is not Elasticsearch).
            await self.client.cluster.health(timeout="5s")
        except es_exc.UnsupportedProductError as exc:
            await self.close()
            raise BackendUnavailable(
                f"{', '.join(self.settings.hosts)} is not Elasticsearch 9.x: {exc}") from exc
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            await self.close()
            raise BackendUnavailable(
                f"cannot reach elasticsearch at {', '.join(self.settings.hosts)} "
                f"(elasticsearch.hosts): {exc}") from exc
        if writer:
            await self.lifecycle.prepare(self.client)
            for kind in KINDS:
                await self._ensure_kind(kind)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # --- templates and indices ---------------------------------------------------------

    async def _ensure_kind(self, kind: str) -> None:
        """Install or upgrade the kind's template, and upgrade its existing indices."""
        if kind in self._ready_kinds:
            return
        name = layout.template_name(self.prefix, kind)
        try:
            current = None
            try:
                found = await self.client.indices.get_index_template(name=name)
                templates = found.get("index_templates", [])
                current = (templates[0]["index_template"].get("meta") or {}).get(
                    "heroes_fingerprint") if templates else None
            except es_exc.NotFoundError:
                pass
            spec = lifecycle.template_for(self.settings, kind,
                                          policy=self.lifecycle.policy(kind))
            # Shards, replicas, refresh or policy changed in settings: the template follows.
            if current != spec["meta"]["heroes_fingerprint"]:
                await self.client.indices.put_index_template(**spec)
                log.info("elasticsearch template %s installed (mapping version %d, was %s)",
                         name, layout.MAPPING_VERSION, current)
            await self._upgrade_indices(kind)
        except es_exc.ApiError as exc:
            if exc.status_code in RETRY_STATUS:
                raise _unavailable(exc, f"preparing the {kind} indices") from exc
            raise IncompatibleMapping(
                f"elasticsearch: cannot install the {kind} template {name!r}: "
                f"{_reason(_error_of(exc))}") from exc
        except elastic_transport.TransportError as exc:
            raise _unavailable(exc, f"preparing the {kind} indices") from exc
        self._ready_kinds.add(kind)

    async def _upgrade_indices(self, kind: str) -> None:
        pattern = layout.index_pattern(self.prefix, kind)
        mappings = await self.client.indices.get_mapping(index=pattern, allow_no_indices=True,
                                                         ignore_unavailable=True)
        wanted = layout.mapping_for(kind)
        for index, body in mappings.body.items():
            self._known_indices.add(index)
            meta = body.get("mappings", {}).get("_meta", {})
            if meta.get("heroes_mapping_version") == layout.MAPPING_VERSION:
                continue
            try:
                await self.client.indices.put_mapping(
                    index=index, properties=wanted["properties"], meta=wanted["_meta"],
                    dynamic=wanted["dynamic"])
            except es_exc.BadRequestError as exc:
                raise IncompatibleMapping(
                    f"elasticsearch index {index!r} cannot take mapping version "
                    f"{layout.MAPPING_VERSION}: {_reason(_error_of(exc))}; "
                    "copy its documents into a new index (heroes index migrate) or delete it"
                ) from exc
            log.info("elasticsearch index %s upgraded to mapping version %d", index,
                     layout.MAPPING_VERSION)

    async def _ensure_index(self, index: str) -> None:
        if index in self._known_indices:
            return
        try:
            await self.client.indices.create(index=index, settings=lifecycle.creation_settings(
                self.prefix, index, ilm=self.lifecycle.ilm) or None)
            log.info("elasticsearch index %s created", index)
        except es_exc.BadRequestError as exc:
            error = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
            if error.get("type") != "resource_already_exists_exception":
                raise
        await self._await_primaries([index])
        self._known_indices.add(index)

    async def _await_primaries(self, indices: Sequence[str]) -> None:
        """Return once every primary of ``indices`` has started. An index created a moment
        ago, by this writer or another, may still be recovering (a busy node answers the
        create before its primaries start), and a real-time read of it before then answers
        "no shard available".

        Health's ``yellow`` is not enough: an index whose primaries are still initializing
        from an empty store reports yellow, not red, so each index's active primaries are
        counted against its shards until they match or the request timeout passes.
        """
        new = [index for index in indices if index not in self._started_indices]
        if not new:
            return
        # Health waits for an index that does not exist (yet) until its timeout: ask only of
        # those that do; a missing one is asked about again at the next read.
        found = await self.client.indices.get_alias(index=new, allow_no_indices=True,
                                                    ignore_unavailable=True)
        present = sorted(found.body)
        timeout_s = self.settings.request_timeout_s
        deadline = asyncio.get_running_loop().time() + timeout_s
        pause_s = PRIMARY_POLL_FIRST_S
        while present:
            # Polled rather than waited for server-side: a health wait as long as the
            # request timeout is cut by the client's own timeout first.
            health = await self.client.cluster.health(index=present, level="indices")
            starting = _starting_primaries(health.body.get("indices", {}), present)
            self._started_indices.update(set(present) - starting)
            if not starting:
                return
            if asyncio.get_running_loop().time() >= deadline:
                raise BackendUnavailable(
                    f"elasticsearch: primaries of {', '.join(sorted(starting))} not started "
                    f"after {timeout_s:g}s")
            present = sorted(starting)
            await asyncio.sleep(pause_s)
            pause_s = min(pause_s * 2, PRIMARY_POLL_MAX_S)

    async def old_indices(self, kind: str, before: datetime) -> list[lifecycle.OldIndex]:
        """The kind's indices retention may drop whole (see :func:`es_lifecycle.old_indices`)."""
        _check_kind(kind)
        try:
            return await lifecycle.old_indices(self.client, self.prefix, kind, before)
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise _unavailable(exc, f"listing old {kind} indices") from exc

    async def drop_indices(self, indices: Sequence[lifecycle.OldIndex]) -> None:
        """Delete whole indices (retention); a later write to their month creates them anew."""
        try:
            await lifecycle.drop(self.client, list(indices))
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise _unavailable(exc, "dropping old indices") from exc
        self._known_indices.difference_update(old.name for old in indices)
        self._started_indices.difference_update(old.name for old in indices)

    # --- writes --------------------------------------------------------------------------

    async def write(self, docs: Sequence[Document]) -> list[Rejected]:
        if not docs:
            return []
        try:
            return await self._write(docs)
        except BackendUnavailable:
            raise
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise _unavailable(exc, f"writing {len(docs)} documents") from exc

    async def _write(self, docs: Sequence[Document]) -> list[Rejected]:
        ahead, self._read_ahead = self._read_ahead, {}
        merged: list[Document] = []
        plain: list[Document] = []
        for doc in docs:
            (merged if is_merged(doc.KIND) else plain).append(doc)
        touched: set[str] = set()
        rejected: list[Rejected] = []
        if merged:
            for doc in merged:
                await self._ensure_kind(doc.KIND)
                index = layout.target_index(self.prefix, doc)
                await self._ensure_index(index)
                touched.add(index)
            writer = MergeWriter(self.prefix, self._bulk, self._read_copies, _reason,
                                 self.merge_counters)
            refused, written_to = await writer.write(_one_per_id(merged), ahead)
            rejected.extend(refused)
            touched |= written_to
        if plain:
            rejected.extend(await self._write_plain(plain, touched))
        # No refresh: searches see the writes after the index's refresh interval, or after
        # refresh() for a caller that must search what it just wrote.
        return rejected

    async def _write_plain(self, docs: Sequence[Document], touched: set[str]
                           ) -> list[Rejected]:
        """Kinds whose newer version replaces the older: plain ``index`` ops."""
        targets: dict[tuple[str, str], str] = {}
        for doc in docs:
            await self._ensure_kind(doc.KIND)
            index = layout.target_index(self.prefix, doc)
            await self._ensure_index(index)
            targets[(doc.KIND, doc.id)] = index
        # Where each id lives now: a document whose month changed is moved, not duplicated.
        located: dict[tuple[str, str], set[str]] = {}
        by_kind: dict[str, list[str]] = {}
        for kind, doc_id in targets:
            by_kind.setdefault(kind, []).append(doc_id)
        for kind, ids in by_kind.items():
            if kind in layout.MONTHLY:
                for doc_id, indices in (await self._locate(kind, ids)).items():
                    located[(kind, doc_id)] = indices
        actions = [{"_op_type": "index", "_index": targets[(d.KIND, d.id)], "_id": d.id,
                    "_source": layout.body_for(d)} for d in docs]
        kinds_by_id = {(targets[(d.KIND, d.id)], d.id): d.KIND for d in docs}
        rejected: list[Rejected] = []
        retry_later: list[str] = []
        written: set[tuple[str, str]] = set()
        async for ok, info in self._bulk(actions):
            item = info.get("index", info)
            key = (item.get("_index", ""), item.get("_id", ""))
            kind = kinds_by_id.get(key, "?")
            if ok:
                written.add((kind, key[1]))
                continue
            status = item.get("status", 0)
            reason = _reason(item.get("error"))
            if status in RETRY_STATUS or status >= 500:
                retry_later.append(f"{kind}/{key[1]}: HTTP {status} {reason}")
            else:
                rejected.append(Rejected(key[1], kind, f"elasticsearch refused it: {reason}"))
        if retry_later:
            raise BackendUnavailable(
                f"elasticsearch kept refusing {len(retry_later)} documents for now "
                f"(first: {retry_later[0]}); they stay in the spool")
        stale = [{"_op_type": "delete", "_index": old, "_id": doc_id}
                 for (kind, doc_id), indices in located.items() if (kind, doc_id) in written
                 for old in indices if old != targets[(kind, doc_id)]]
        if stale:
            async for ok, info in self._bulk(stale):
                if not ok and info.get("delete", {}).get("status") != 404:
                    raise BackendUnavailable(f"elasticsearch: removing a moved copy failed: {info}")
        touched |= set(targets.values()) | {a["_index"] for a in stale}
        return rejected

    async def _kind_indices(self, kind: str) -> list[str]:
        """Every concrete index of a kind, asked of the cluster (another writer may have
        created a month this process has not seen)."""
        if kind not in layout.MONTHLY:
            return [layout.index_name(self.prefix, kind, None)]
        found = await self.client.indices.get_alias(
            index=layout.index_pattern(self.prefix, kind), allow_no_indices=True,
            ignore_unavailable=True)
        return sorted(found.body)

    async def _read_copies(self, kind: str, ids: Sequence[str]) -> dict[str, list[Copy]]:
        """Every stored copy of each id with its ``_seq_no``/``_primary_term``.

        Real-time gets by concrete index, not a search: a search sees only refreshed
        documents, and a merge must see what another writer committed a moment ago.
        """
        indices = await self._kind_indices(kind)
        await self._await_primaries(indices)
        wanted = [{"_index": index, "_id": doc_id} for doc_id in dict.fromkeys(ids)
                  for index in indices]
        copies: dict[str, list[Copy]] = {}
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            for item in await self._mget(kind, wanted[start:start + LOOKUP_CHUNK]):
                if item.get("found"):
                    copies.setdefault(item["_id"], []).append(Copy(
                        item["_index"], item["_seq_no"], item["_primary_term"],
                        item["_source"]))
        return copies

    async def _mget(self, kind: str, docs: list[dict[str, str]]) -> list[dict[str, Any]]:
        """One real-time multi-get; a copy that is still recovering (a node that just
        started or restarted, a primary being promoted) is waited for and read again a few
        times before the read counts as the backend being unavailable."""
        for attempt in range(SHARD_WAIT_ATTEMPTS + 1):
            items = (await self.client.mget(docs=docs))["docs"]
            recovering: set[str] = set()
            for item in items:
                error = item.get("error")
                if error is None:
                    continue
                kind_of_error = error.get("type") if isinstance(error, dict) else None
                if kind_of_error == "index_not_found_exception":
                    continue
                if (kind_of_error == "no_shard_available_action_exception"
                        and attempt < SHARD_WAIT_ATTEMPTS):
                    recovering.add(item["_index"])
                    continue
                raise BackendUnavailable(
                    f"elasticsearch: reading {kind}/{item.get('_id')} before merging: "
                    f"{_reason(error)}")
            if not recovering:
                return [item for item in items if item.get("error") is None]
            log.info("elasticsearch: %s not readable yet (shards recovering); waiting",
                     ", ".join(sorted(recovering)))
            self._started_indices.difference_update(recovering)
            await self._await_primaries(sorted(recovering))
        raise AssertionError("unreachable")  # the last attempt returns or raises

    async def _bulk(self, actions: list[dict[str, Any]]
                    ) -> AsyncIterator[tuple[bool, dict[str, Any]]]:
        s = self.settings
        async for ok, info in helpers.async_streaming_bulk(
            self.client, actions, chunk_size=s.bulk_chunk_size, raise_on_error=False,
            raise_on_exception=True, max_retries=s.bulk_max_retries,
            initial_backoff=s.retry_initial_backoff_s, max_backoff=s.retry_max_backoff_s,
            retry_on_status=RETRY_STATUS, yield_ok=True, refresh=s.write_refresh,
        ):
            yield ok, info

    async def _refresh(self, indices: set[str]) -> None:
        if indices:
            await self.client.indices.refresh(index=sorted(indices), ignore_unavailable=True)

    async def refresh(self) -> None:
        try:
            await self.client.indices.refresh(index=f"{self.prefix}-*", ignore_unavailable=True,
                                              allow_no_indices=True)
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise _unavailable(exc, "refreshing") from exc

    # --- reads ---------------------------------------------------------------------------

    async def _locate(self, kind: str, ids: Sequence[str]) -> dict[str, set[str]]:
        """The concrete indices holding each id, read in real time (no refresh needed)."""
        return {doc_id: {c.index for c in copies}
                for doc_id, copies in (await self._read_copies(kind, ids)).items()}

    async def read_for_merge(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """:meth:`get` for the drain's merge: the versions read are kept, and the next
        :meth:`write` quotes them in its conditional writes instead of reading again."""
        return await self.get(kind, ids, keep_versions=True)

    async def get(self, kind: str, ids: Sequence[str], *, keep_versions: bool = False
                  ) -> dict[str, dict[str, Any]]:
        _check_kind(kind)
        if not ids:
            return {}
        try:
            # Real-time gets: a caller reads its own writes without waiting for a refresh.
            found = await self._read_copies(kind, ids)
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise _unavailable(exc, f"reading {len(ids)} {kind} documents") from exc
        if keep_versions:
            self._read_ahead.update({(kind, i): found.get(i, []) for i in ids})
        return {doc_id: layout.clean_source(copies[-1].source)
                for doc_id, copies in found.items()}

    async def delete(self, kind: str, ids: Sequence[str]) -> int:
        _check_kind(kind)
        if not ids:
            return 0
        try:
            located = await self._locate(kind, ids)
            actions = [{"_op_type": "delete", "_index": index, "_id": doc_id}
                       for doc_id, indices in located.items() for index in indices]
            async for ok, info in self._bulk(actions):
                if not ok and info.get("delete", {}).get("status") != 404:
                    raise BackendUnavailable(f"elasticsearch: delete failed: {info}")
            await self._refresh({a["_index"] for a in actions})
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise _unavailable(exc, f"deleting {len(ids)} {kind} documents") from exc
        return len(located)

    async def count(self, kind: str) -> int:
        _check_kind(kind)
        try:
            resp = await self.client.count(index=layout.alias_name(self.prefix, kind),
                                           ignore_unavailable=True, allow_no_indices=True)
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise _unavailable(exc, f"counting {kind} documents") from exc
        return int(resp["count"])

    async def search(self, search: Search) -> SearchResult:
        search = validate_search(search)
        body = to_dsl(search)
        body["query"] = layout.rewrite_query(search.kind, body["query"])
        _pin_bucket_order(search, body)
        _fix_missing_after(search, body)
        try:
            resp = await self.client.search(
                index=layout.alias_name(self.prefix, search.kind), ignore_unavailable=True,
                allow_no_indices=True, **body)
        except es_exc.BadRequestError as exc:
            raise QueryError(f"elasticsearch refused the query: {_reason(_error_of(exc))}") from exc
        except (es_exc.ApiError, elastic_transport.TransportError) as exc:
            raise _unavailable(exc, f"searching {search.kind}") from exc
        return _result(search, resp.body)


# --- helpers (pure) ------------------------------------------------------------------------


def _one_per_id(docs: Sequence[Document]) -> list[Document]:
    """Several versions of one id in a batch folded into one (later ones are newer)."""
    latest: dict[tuple[str, str], Document] = {}
    for doc in docs:
        key = (doc.KIND, doc.id)
        latest[key] = doc.merged_with(latest[key]) if key in latest else doc
    return list(latest.values())


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise QueryError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def _error_of(exc: es_exc.ApiError) -> Any:
    return exc.body.get("error", exc.message) if isinstance(exc.body, dict) else exc.message


def _pin_bucket_order(search: Search, body: dict[str, Any]) -> None:
    """Terms buckets by count descending then key ascending, said explicitly."""
    for name, agg in search.aggs.items():
        if isinstance(agg, TermsAgg):
            body["aggs"][name]["terms"]["order"] = [{"_count": "desc"}, {"_key": "asc"}]


def _fix_missing_after(search: Search, body: dict[str, Any]) -> None:
    """A missing double sorts as +/-Infinity in Elasticsearch; the cursor must say so too."""
    if search.search_after is None:
        return
    after = body["search_after"]
    for i, item in enumerate(search.sort):
        if after[i] is None and field_type(search.kind, item.field) is FieldType.DOUBLE:
            after[i] = "Infinity" if item.order == "asc" else "-Infinity"


def _sort_value(value: Any, ftype: FieldType | None) -> Any:
    """Elasticsearch's sort value of a hit in our form: None for a missing value."""
    if ftype in (FieldType.LONG, FieldType.DATE) and value in (_LONG_MAX, _LONG_MIN):
        return None
    if ftype is FieldType.DOUBLE:
        if isinstance(value, str):
            value = float(value)
        if isinstance(value, float) and math.isinf(value):
            return None
    return value


def _result(search: Search, resp: dict[str, Any]) -> SearchResult:
    """Elasticsearch's response reduced to the shape every backend returns."""
    sort_types: list[FieldType | None] = [
        None if item.field == SCORE else field_type(search.kind, item.field)
        for item in (search.sort or ())
    ] or [None]
    hits = []
    for hit in resp["hits"]["hits"]:
        raw_sort = hit.get("sort", [])
        values = [_sort_value(v, t) for v, t in zip(raw_sort[:-1], sort_types, strict=False)]
        hits.append({
            "_index": search.kind,
            "_id": hit["_id"],
            "_score": hit.get("_score"),
            "_source": layout.clean_source(hit.get("_source", {})),
            "sort": [*values, hit["_id"]],
        })
    # With an explicit sort Elasticsearch leaves max_score null even when sorting by score.
    scores = [h["_score"] for h in hits if isinstance(h["_score"], int | float)]
    by_score = any(t is None for t in sort_types)
    result: SearchResult = {
        "took": resp.get("took", 0),
        "timed_out": resp.get("timed_out", False),
        "hits": {"total": {"value": resp["hits"]["total"]["value"], "relation": "eq"},
                 "max_score": max(scores) if by_score and scores else None, "hits": hits},
    }
    if search.aggs:
        aggs = resp.get("aggregations", {})
        result["aggregations"] = {
            name: {"buckets": [_bucket(b, agg, search.kind)
                               for b in aggs.get(name, {}).get("buckets", [])]}
            for name, agg in search.aggs.items()
        }
    return result


def _metrics(bucket: dict[str, Any], agg: TermsAgg, kind: str) -> dict[str, Any]:
    """A bucket's metric values in the model's form (whole numbers for longs and dates)."""
    out: dict[str, Any] = {}
    for name, metric in agg.metrics:
        value = (bucket.get(name) or {}).get("value")
        if value is not None and (metric.op == "cardinality" or field_type(
                kind, metric.field) in (FieldType.LONG, FieldType.DATE)):
            value = int(value)
        out[name] = value
    return out


def _bucket(bucket: dict[str, Any], agg: Any, kind: str) -> dict[str, Any]:
    if isinstance(agg, TermsAgg):
        if field_type(kind, agg.field) is FieldType.BOOL:
            return {"key": int(bucket["key"]), "key_as_string": bucket.get("key_as_string"),
                    "doc_count": bucket["doc_count"], **_metrics(bucket, agg, kind)}
        return {"key": bucket["key"], "doc_count": bucket["doc_count"],
                **_metrics(bucket, agg, kind)}
    return {"key_as_string": bucket.get("key_as_string"), "key": bucket["key"],
            "doc_count": bucket["doc_count"]}

