"""Retention: delete documents older than the ``[retention]`` policy, kind by kind.

For each kind with a limit, documents whose time field (``TIME_FIELD`` of the kind) is
before ``now - days`` go. A backend that keeps a kind in indices by month (Elasticsearch)
first drops whole the indices that hold only such documents (one request each, see
:class:`WholeIndexRetention`); what is left, the boundary month, is found with a range query
and deleted by id through the :class:`~index.backends.base.Backend` interface.
Reads ``[retention]``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from config.sections.console import RetentionSettings
from documents import KINDS
from index.backends.base import Backend
from query.model import Range, Search, SortField

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass(frozen=True)
class Cutoff:
    kind: str
    field: str
    days: int
    before: datetime


class OldIndex(Protocol):
    name: str
    documents: int


@runtime_checkable
class WholeIndexRetention(Protocol):
    """A backend that can drop a kind's old indices whole."""

    async def old_indices(self, kind: str, before: datetime) -> Sequence[OldIndex]: ...

    async def drop_indices(self, indices: Sequence[OldIndex]) -> None: ...


@dataclass
class KindPurge:
    """What retention did (or, in a dry run, would do) to one kind."""

    kind: str
    dropped: list[tuple[str, int]] = field(default_factory=list)  # (index, documents)
    documents: int = 0  # deleted one by one (the boundary month)

    @property
    def total(self) -> int:
        return self.documents + sum(n for _, n in self.dropped)


def cutoffs(policy: RetentionSettings, now: datetime | None = None) -> list[Cutoff]:
    """The kinds the policy limits, with the instant before which documents go."""
    now = now or datetime.now(UTC)
    out = []
    for kind, cls in KINDS.items():
        days = getattr(policy, f"{kind}_days", 0)
        if days:
            out.append(Cutoff(kind, cls.TIME_FIELD, days, now - timedelta(days=days)))
    return out


async def purge_report(
    backend: Backend,
    policy: RetentionSettings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[KindPurge]:
    """Delete what the policy says is too old, per kind: indices dropped and documents deleted."""
    report: list[KindPurge] = []
    for cut in cutoffs(policy, now):
        done = KindPurge(cut.kind)
        report.append(done)
        if isinstance(backend, WholeIndexRetention):
            old = list(await backend.old_indices(cut.kind, cut.before))
            done.dropped = [(index.name, index.documents) for index in old]
            if old and not dry_run:
                await backend.drop_indices(old)
        query = Range(cut.field, lt=cut.before)
        if dry_run:
            result = await backend.search(Search(kind=cut.kind, query=query, size=1))
            # Still counted among the matches: the documents of the indices not yet dropped.
            done.documents = int(result["hits"]["total"]["value"]) - sum(
                n for _, n in done.dropped)
            continue
        while True:
            result = await backend.search(
                Search(kind=cut.kind, query=query, size=BATCH, sort=(SortField(cut.field, "asc"),))
            )
            ids = [hit["_id"] for hit in result["hits"]["hits"]]
            if not ids:
                break
            removed = await backend.delete(cut.kind, ids)
            await backend.refresh()
            done.documents += removed
            if removed == 0:
                # Nothing could be deleted: stop rather than loop on the same ids.
                log.warning("%s: %d old documents found but none deleted", cut.kind, len(ids))
                break
        log.info("retention: %s older than %s days: %d indices dropped, %d documents deleted",
                 cut.kind, cut.days, len(done.dropped), done.total)
    return report


async def purge(
    backend: Backend,
    policy: RetentionSettings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Delete what the policy says is too old; returns documents deleted (or found) per kind."""
    report = await purge_report(backend, policy, now=now, dry_run=dry_run)
    return {done.kind: done.total for done in report}
