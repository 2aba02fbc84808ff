"""The matching drain stage: marks every document that carries a flagged value.

Runs in the drain (``before_write``), so each document is checked once whichever process
produced it. Outcomes per document: unchanged (nothing flagged), or marked with one
:class:`~index.documents.Match` per (list entry, field) and ``flagged=True``; page media
that matched also get ``flagged=True``. ``hash`` and ``alert`` documents are never checked.
The in-memory view is rebuilt when a list changes (checked every
``matching.reload_check_s``). Reads the ``matching`` settings section.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from config.sections.matching import MatchingSettings
from index.documents import Document, Page
from index.hashsets.membership import MembershipStore
from index.matching_fields import Probe, probes_of
from index.matching_index import FlaggedIndex, ProbeMatch

log = logging.getLogger(__name__)


class MatchingStage:
    """DrainStage: flagged-value matching at ingest."""

    name = "matching"

    def __init__(self, store: MembershipStore, settings: MatchingSettings):
        self.settings = settings
        self.index = FlaggedIndex(store, settings)
        self._checked_at = 0.0
        self.counters = {"checked": 0, "flagged": 0}

    async def before_write(self, docs: list[Document]) -> list[Document]:
        now = time.monotonic()
        if now - self._checked_at >= self.settings.reload_check_s or self.index.generation < 0:
            self._checked_at = now
            await asyncio.to_thread(self.index.load)
        return self.mark_batch(docs)

    async def after_commit(self, docs: Sequence[Document]) -> None:
        return None

    def mark(self, doc: Document) -> Document:
        return self.mark_batch([doc])[0]

    def mark_batch(self, docs: Sequence[Document]) -> list[Document]:
        """The documents, those carrying flagged values marked; one matcher pass for all."""
        probes: list[Probe] = []
        owner: list[int] = []
        for n, doc in enumerate(docs):
            found = probes_of(doc)
            probes.extend(found)
            owner.extend([n] * len(found))
        self.counters["checked"] += len(docs)
        by_doc: dict[int, list[ProbeMatch]] = {}
        for hit in self.index.match(probes):
            by_doc.setdefault(owner[hit.position], []).append(hit)
        out = list(docs)
        for n, hits in by_doc.items():
            self.counters["flagged"] += 1
            marked = out[n].with_matches([h.match for h in hits])
            if isinstance(marked, Page):
                marked = _flag_media(marked, hits)
            out[n] = marked
        return out


def _flag_media(page: Page, found: list[ProbeMatch]) -> Page:
    flagged = {f.probe.media for f in found if f.probe.media is not None}
    if not flagged:
        return page
    media = [
        m.model_copy(update={"flagged": True}) if i in flagged else m
        for i, m in enumerate(page.media)
    ]
    return page.model_copy(update={"media": media})
