"""Writes of merged kinds on Elasticsearch: read, merge, write with optimistic concurrency.

A kind whose :meth:`~documents.base.Document.merged_with` combines versions (services,
observations, torrents, flagged hashes) is written as a read-merge-write that any number of
drainers may run at once against one cluster without losing each other's updates:

1. read every copy of each id with its ``_seq_no``/``_primary_term`` (a monthly kind may
   hold a copy in another month's index while it moves);
2. fold the copies into the new version (merges are unions and min/max, so folding a copy
   twice changes nothing);
3. write the result to its target index with ``if_seq_no``/``if_primary_term`` of the copy
   there, or ``op_type=create`` when there is none; a result equal to the stored copy is
   not written at all (a replayed batch, or a create that was applied and then re-sent);
4. delete copies left in other indices, each guarded by its own ``if_seq_no``;
5. read a monthly document just created once more: two writers creating it in different
   months' indices do not conflict, so the second copy is found here and merged in.

The copies of step 1 may come from the caller (``prefetched``: the drain read them to merge
before its stages, :meth:`~index.backends.elasticsearch.ElasticsearchBackend.read_for_merge`)
for the first round; they are as good as a fresh read, because every write quotes the
version it was based on and a copy that changed since fails with 409 like any other race.

A 409 means another writer got there first: those ids are read and merged again, up to
:data:`MERGE_ATTEMPTS` rounds; still conflicting, the batch fails with
:class:`~errors.BackendUnavailable` and stays in the spool, like a cluster outage. Nothing
here reads settings; :class:`MergeWriter` is given the backend's bulk and search calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from documents import KINDS, Document
from documents.base import validate
from errors import BackendUnavailable, InvalidDocument
from index.backends import es_mappings as layout
from index.backends.base import Rejected

# Rounds of read-merge-write per batch before it is handed back to the spool.
MERGE_ATTEMPTS = 8
CONFLICT = 409
RETRY_STATUS = (429, 502, 503, 504)

Bulk = Callable[[list[dict[str, Any]]], AsyncIterator[tuple[bool, dict[str, Any]]]]
Key = tuple[str, str]  # (kind, id)
ReadCopies = Callable[[str, Sequence[str]], Awaitable[dict[str, list["Copy"]]]]


def is_merged(kind: str) -> bool:
    """Whether a kind combines a new version with the stored one (else: plain replace)."""
    return KINDS[kind].merged_with is not Document.merged_with


@dataclass(frozen=True)
class Copy:
    """One stored copy of a document, with the token a conditional write must quote."""

    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


@dataclass
class MergeCounters:
    """What the merge path did, for benchmarks and tests."""

    written: int = 0
    unchanged: int = 0
    conflicts: int = 0
    rounds: int = 0


@dataclass
class _Plan:
    doc: Document
    target: str
    action: dict[str, Any] | None
    stale: list[Copy] = field(default_factory=list)


def fold(doc: Document, copies: Sequence[Copy]) -> Document:
    """The new version merged with every readable stored copy."""
    merged = doc
    for copy in copies:
        try:
            old = validate(KINDS[doc.KIND], layout.clean_source(copy.source))
        except InvalidDocument:
            # An unreadable stored copy is replaced; the new version is the better one.
            continue
        merged = merged.merged_with(old)
    return merged


def plan(prefix: str, doc: Document, copies: Sequence[Copy], *, created: bool = False
         ) -> _Plan:
    """The conditional write (or none) and the stale copies for one merged document.

    ``created``: ``doc`` is what this writer just created; its copy alone is no news.
    """
    target = layout.target_index(prefix, doc)
    if created and len(copies) == 1 and copies[0].index == target:
        return _Plan(doc, target, None, [])
    merged = fold(doc, copies)
    target = layout.target_index(prefix, merged)
    body = layout.body_for(merged)
    here = [c for c in copies if c.index == target]
    stale = [c for c in copies if c.index != target]
    action: dict[str, Any] | None
    if not here:
        action = {"_op_type": "create", "_index": target, "_id": merged.id, "_source": body}
    elif layout.clean_source(here[0].source) == layout.clean_source(body):
        action = None
    else:
        action = {"_op_type": "index", "_index": target, "_id": merged.id, "_source": body,
                  "if_seq_no": here[0].seq_no, "if_primary_term": here[0].primary_term}
    return _Plan(merged, target, action, stale)


def _item(info: dict[str, Any]) -> dict[str, Any]:
    return next(iter(info.values())) if info else {}


class MergeWriter:
    """Runs the rounds of read-merge-write for one batch of merged documents."""

    def __init__(self, prefix: str, bulk: Bulk, read_copies: ReadCopies,
                 reason: Callable[[Any], str], counters: MergeCounters):
        self.prefix = prefix
        self.bulk = bulk
        self.read_copies = read_copies
        self.reason = reason
        self.counters = counters

    async def write(self, docs: Sequence[Document],
                    prefetched: dict[Key, list[Copy]] | None = None
                    ) -> tuple[list[Rejected], set[str]]:
        """Write ``docs`` (one per id); returns the refused ones and the indices touched.

        ``prefetched``: copies already read (with their versions) for some of these ids, an
        id mapped to ``[]`` when none was stored; the first round reads only the others.
        """
        pending = {(d.KIND, d.id): d for d in docs}
        known = dict(prefetched or {})
        checks: set[tuple[str, str]] = set()
        rejected: list[Rejected] = []
        touched: set[str] = set()
        for _ in range(MERGE_ATTEMPTS):
            if not pending:
                return rejected, touched
            self.counters.rounds += 1
            conflicted, created, refused, plans = await self._round(pending, checks, touched,
                                                                    known)
            known = {}  # later rounds read again: what was known is what conflicted
            rejected.extend(refused)
            self.counters.conflicts += len(conflicted)
            # Creates in two different monthly indices do not conflict with each other: a
            # created monthly document is read once more, and any second copy merged in.
            checks = {key for key in created if key[0] in layout.MONTHLY}
            pending = {key: plans[key].doc for key in conflicted | checks}
        if pending:
            kind, doc_id = next(iter(pending))
            raise BackendUnavailable(
                f"elasticsearch: {len(pending)} merged documents kept changing under this "
                f"writer after {MERGE_ATTEMPTS} rounds (first: {kind}/{doc_id}); they stay in "
                "the spool")
        return rejected, touched

    async def _round(self, pending: dict[Key, Document], checks: set[Key], touched: set[str],
                     known: dict[Key, list[Copy]]
                     ) -> tuple[set[Key], set[Key], list[Rejected], dict[Key, _Plan]]:
        """One read-merge-write: returns the conflicted keys, the created ones, the refused
        documents and the plans."""
        by_kind: dict[str, list[str]] = {}
        for kind, doc_id in pending:
            by_kind.setdefault(kind, []).append(doc_id)
        plans: dict[tuple[str, str], _Plan] = {}
        for kind, ids in by_kind.items():
            unread = [i for i in ids if (kind, i) not in known]
            copies = await self.read_copies(kind, unread) if unread else {}
            copies.update({i: known[(kind, i)] for i in ids if (kind, i) in known})
            for doc_id in ids:
                plans[(kind, doc_id)] = plan(self.prefix, pending[(kind, doc_id)],
                                             copies.get(doc_id, []),
                                             created=(kind, doc_id) in checks)
        conflicted: set[tuple[str, str]] = set()
        rejected: list[Rejected] = []
        retry_later: list[str] = []
        by_target = {(p.target, p.doc.id): key for key, p in plans.items()}
        actions = [p.action for p in plans.values() if p.action is not None]
        self.counters.unchanged += len(plans) - len(actions)
        written = {key for key, p in plans.items() if p.action is None}
        created: set[tuple[str, str]] = set()
        async for ok, info in self.bulk(actions):
            item = _item(info)
            key = by_target.get((item.get("_index", ""), item.get("_id", "")))
            if key is None:
                continue
            if ok:
                written.add(key)
                touched.add(plans[key].target)
                self.counters.written += 1
                if "create" in info:
                    created.add(key)
                continue
            status = item.get("status", 0)
            why = self.reason(item.get("error"))
            if status == CONFLICT:
                conflicted.add(key)
            elif status in RETRY_STATUS or status >= 500:
                retry_later.append(f"{key[0]}/{key[1]}: HTTP {status} {why}")
            else:
                rejected.append(Rejected(key[1], key[0], f"elasticsearch refused it: {why}"))
        if retry_later:
            raise BackendUnavailable(
                f"elasticsearch kept refusing {len(retry_later)} documents for now "
                f"(first: {retry_later[0]}); they stay in the spool")
        # Only once the merged copy is in its target may the copies elsewhere go.
        stale = {(c.index, plans[key].doc.id): (key, c) for key in written
                 for c in plans[key].stale}
        deletes = [{"_op_type": "delete", "_index": c.index, "_id": doc_id,
                    "if_seq_no": c.seq_no, "if_primary_term": c.primary_term}
                   for (_, doc_id), (_, c) in stale.items()]
        if deletes:
            async for ok, info in self.bulk(deletes):
                item = _item(info)
                where = (item.get("_index", ""), item.get("_id", ""))
                touched.add(where[0])
                status = item.get("status", 0)
                if ok or status == 404:
                    continue
                if status == CONFLICT and where in stale:
                    # Someone updated the old copy meanwhile: merge it in next round.
                    conflicted.add(stale[where][0])
                else:
                    raise BackendUnavailable(
                        f"elasticsearch: removing a moved copy failed: HTTP {status} "
                        f"{self.reason(item.get('error'))}")
        return conflicted, created - conflicted, rejected, plans
