"""Retention: delete documents older than the ``[retention]`` policy, kind by kind.

For each kind with a limit, documents whose time field (``TIME_FIELD`` of the kind) is
before ``now - days`` are found with a range query and deleted by id through the
:class:`~index.backends.base.Backend` interface. Reads ``[retention]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from config.sections.console import RetentionSettings
from index.backends.base import Backend
from index.documents import KINDS
from index.query.model import Range, Search, SortField

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass(frozen=True)
class Cutoff:
    kind: str
    field: str
    days: int
    before: datetime


def cutoffs(policy: RetentionSettings, now: datetime | None = None) -> list[Cutoff]:
    """The kinds the policy limits, with the instant before which documents go."""
    now = now or datetime.now(UTC)
    out = []
    for kind, cls in KINDS.items():
        days = getattr(policy, f"{kind}_days", 0)
        if days:
            out.append(Cutoff(kind, cls.TIME_FIELD, days, now - timedelta(days=days)))
    return out


async def purge(
    backend: Backend,
    policy: RetentionSettings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Delete what the policy says is too old; returns documents deleted (or found) per kind."""
    deleted: dict[str, int] = {}
    for cut in cutoffs(policy, now):
        query = Range(cut.field, lt=cut.before)
        count = 0
        if dry_run:
            result = await backend.search(Search(kind=cut.kind, query=query, size=1))
            deleted[cut.kind] = int(result["hits"]["total"]["value"])
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
            count += removed
            if removed == 0:
                # Nothing could be deleted: stop rather than loop on the same ids.
                log.warning("%s: %d old documents found but none deleted", cut.kind, len(ids))
                break
        deleted[cut.kind] = count
        log.info("retention: %s older than %s days: %d deleted", cut.kind, cut.days, count)
    return deleted
