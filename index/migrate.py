"""Copy every document of one backend into another (``heroes index migrate``).

Reads each kind from the source in pages ordered by its time field (``search_after``, so
the source needs nothing but the Backend interface), re-validates every ``_source`` and
writes it to the target in batches. Writes are upserts by deterministic id, so running it
again after an interruption is harmless. Outcomes per document: copied, refused by the
target (its reason is reported), or not valid for its kind any more (reported). Reads no
settings; the caller passes the batch size.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from documents import KINDS, Document
from documents.base import validate
from errors import InvalidDocument
from index.backends.base import Backend
from query.model import Search, SortField

log = logging.getLogger(__name__)


@dataclass
class KindReport:
    source: int = 0
    copied: int = 0
    target: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class MigrationReport:
    kinds: dict[str, KindReport] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        return [p for report in self.kinds.values() for p in report.problems]


async def read_all(backend: Backend, kind: str, batch_size: int
                   ) -> AsyncIterator[list[tuple[str, dict]]]:
    """Every ``(id, _source)`` of a kind, in pages of ``batch_size``."""
    order = (SortField(KINDS[kind].TIME_FIELD, "asc"),)
    after = None
    while True:
        result = await backend.search(Search(kind, size=batch_size, sort=order, search_after=after))
        hits = result["hits"]["hits"]
        if not hits:
            return
        yield [(hit["_id"], hit["_source"]) for hit in hits]
        after = tuple(hits[-1]["sort"])


async def copy_index(source: Backend, target: Backend, *, batch_size: int = 1000,
                     kinds: Sequence[str] | None = None,
                     progress: Callable[[str, int], None] | None = None) -> MigrationReport:
    """Copy ``kinds`` (default: all) from ``source`` to ``target``; returns what happened."""
    report = MigrationReport()
    for kind in kinds or list(KINDS):
        counts = report.kinds.setdefault(kind, KindReport())
        async for page in read_all(source, kind, batch_size):
            docs: list[Document] = []
            for doc_id, body in page:
                counts.source += 1
                try:
                    doc = validate(KINDS[kind], body)
                except InvalidDocument as exc:
                    counts.problems.append(f"{kind}/{doc_id}: not valid any more: {exc}")
                    continue
                if doc.id != doc_id:
                    counts.problems.append(f"{kind}/{doc_id}: its key now gives id {doc.id}")
                docs.append(doc)
            refused = await target.write(docs)
            for item in refused:
                counts.problems.append(f"{kind}/{item.doc_id}: refused by {target.name}: "
                                       f"{item.reason}")
            counts.copied += len(docs) - len(refused)
            if progress is not None:
                progress(kind, counts.copied)
        await target.refresh()
        counts.target = await target.count(kind)
        log.info("migrated %s: %d read, %d copied, %d now in %s", kind, counts.source,
                 counts.copied, counts.target, target.name)
    return report
