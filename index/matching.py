"""The matching drain stage: marks every document that carries a flagged value.

Runs in the drain (``before_write``), so each document is checked once whichever process
produced it. Outcomes per document: unchanged (nothing flagged), or marked with one
:class:`~documents.Match` per (list entry, field) and ``flagged=True``; page media
that matched also get ``flagged=True``. ``hash`` and ``alert`` documents are never checked.
A page's videos are matched by their frames (``Media.vpdq``) against vPDQ entries
(:mod:`index.matching_vpdq`); those hits then go the way of the others below.
The in-memory view is rebuilt when a list changes (checked every
``matching.reload_check_s``).

List hygiene: a hit that a negative list suppresses is counted on both lists (once, even
when the drain replays the batch) and leaves the document alone; a value with more than
``matching.flood_hits`` hits from documents of ``matching.flood_kinds`` within
``matching.flood_window_s`` is quarantined (:mod:`index.hashsets.quarantine`): its hits are
held instead of marked, and once the batch is committed one ``quarantine`` alert per newly
quarantined value is raised through ``quarantine_alerts`` (:mod:`index.matching_alerts`);
an alert database that cannot be written delays the batch like a backend outage. Reads the
``matching`` settings section.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from config.sections.matching import MatchingSettings
from documents import Document, Page
from errors import BackendUnavailable
from index.hashsets.membership import MembershipStore
from index.hashsets.quarantine import FloodHit, QuarantinedValue, doc_key
from index.matching_fields import Probe, probes_of
from index.matching_index import FlaggedIndex, MatchOutcome, ProbeMatch
from index.matching_vpdq import VpdqMatcher

log = logging.getLogger(__name__)


class QuarantineAlerts(Protocol):
    def raise_alerts(self, values: Sequence[QuarantinedValue], store: MembershipStore) -> None:
        """Raise one alert per newly quarantined value (idempotent: replays change nothing)."""
        ...


class MatchingStage:
    """DrainStage: flagged-value matching at ingest."""

    name = "matching"

    def __init__(
        self,
        store: MembershipStore,
        settings: MatchingSettings,
        *,
        quarantine_alerts: QuarantineAlerts | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.store = store
        self.index = FlaggedIndex(store, settings)
        self.vpdq = VpdqMatcher(store, settings)  # videos: index.matching_vpdq
        self.quarantine_alerts = quarantine_alerts
        self.clock = clock
        self._checked_at = 0.0
        self.counters = {"checked": 0, "flagged": 0, "suppressed": 0, "held": 0}

    async def before_write(self, docs: list[Document]) -> list[Document]:
        now = time.monotonic()
        if now - self._checked_at >= self.settings.reload_check_s or self.index.generation < 0:
            self._checked_at = now
            await asyncio.to_thread(self.index.load)
            await asyncio.to_thread(self.vpdq.load)
        return self.mark_batch(docs)

    async def after_commit(self, docs: Sequence[Document]) -> None:
        await asyncio.to_thread(self.raise_quarantine_alerts)

    def raise_quarantine_alerts(self) -> int:
        """Alert on every quarantined value not alerted yet; returns how many."""
        pending = self.store.quarantine.unalerted()
        if not pending:
            return 0
        if self.quarantine_alerts is None:
            for q in pending:
                log.warning("flood quarantine of %s %s: its hits are held (no alert database)",
                            q.type, q.value)
        else:
            try:
                self.quarantine_alerts.raise_alerts(pending, self.store)
            except sqlite3.Error as exc:
                # As for the alert engine: the drain backs off and the batch is replayed;
                # the values stay unalerted until the alert database answers.
                raise BackendUnavailable(f"alert database: {exc}") from exc
        self.store.quarantine.mark_alerted(pending)
        return len(pending)

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
        outcome = self.index.match_all(probes, owner)
        outcome = self.vpdq.match_into(outcome, docs, probes, owner)
        self._count_suppressed(docs, owner, outcome)
        held = self._hold(docs, owner, outcome.hits)
        by_doc: dict[int, list[ProbeMatch]] = {}
        for hit in outcome.hits:
            n = owner[hit.position]
            if (hit.match.type, hit.stored, n) not in held:
                by_doc.setdefault(n, []).append(hit)
        out = list(docs)
        for n, hits in by_doc.items():
            self.counters["flagged"] += 1
            marked = out[n].with_matches([h.match for h in hits])
            if isinstance(marked, Page):
                marked = _flag_media(marked, hits)
            out[n] = marked
        return out

    def _count_suppressed(
        self, docs: Sequence[Document], owner: list[int], outcome: MatchOutcome
    ) -> None:
        if not outcome.suppressed:
            return
        events = []
        for s in outcome.suppressed:
            hit = s.hit
            parts = (doc_key(docs[owner[hit.position]]), hit.match.field, hit.probe.media,
                     hit.match.type, hit.stored)
            token = "|".join(map(str, parts))
            events += [(hit.match.list, "suppressed", token), (s.by, "suppressing", token)]
        self.counters["suppressed"] += len(outcome.suppressed)
        # Remembered for as long as a flood window: far longer than a replay takes.
        self.store.count_once(events, self.clock(), keep_s=self.settings.flood_window_s)

    def _hold(
        self, docs: Sequence[Document], owner: list[int], hits: list[ProbeMatch]
    ) -> set[tuple[str, str, int]]:
        """(type, value, document number) of the hits the flood quarantine holds."""
        lists: dict[tuple[str, str, int], list[str]] = {}
        kinds = self.settings.flood_kinds
        for hit in hits:
            if docs[owner[hit.position]].KIND not in kinds:
                continue
            key = (hit.match.type, hit.stored, owner[hit.position])
            lists.setdefault(key, []).append(hit.match.list)
        flood = [
            FloodHit(t, v, docs[n], tuple(dict.fromkeys(names)))
            for (t, v, n), names in lists.items()
        ]
        held_keys = self.store.quarantine.record(
            flood,
            self.clock(),
            flood_hits=self.settings.flood_hits,
            window_s=self.settings.flood_window_s,
        )
        held = {
            (t, v, n) for (t, v, n), f in zip(lists, flood, strict=True)
            if (f.type, f.value, f.doc_key) in held_keys
        }
        if held:
            self.counters["held"] += len(held)
            log.info("%d hits held by the flood quarantine", len(held))
        return held


def _flag_media(page: Page, found: list[ProbeMatch]) -> Page:
    flagged = {f.probe.media for f in found if f.probe.media is not None}
    if not flagged:
        return page
    media = [
        m.model_copy(update={"flagged": True}) if i in flagged else m
        for i, m in enumerate(page.media)
    ]
    return page.model_copy(update={"media": media})
