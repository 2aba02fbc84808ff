"""Run one hunt target over the index: scan, match, alert, spool, checkpoint, per batch.

For each kind the target reads (:mod:`index.hunt.scan`; a list of media hashes only is
looked up instead, a chunk of its values per query, ``ListTarget.lookups``), from the
checkpoint on: the batch's hits are found (:mod:`index.hunt.targets`), their firings
recorded as alerts
(:mod:`index.hunt.alerts`), the marked documents appended to the spool (the drain writes
them, flagged, into the index), and only then the cursor after the batch is checkpointed
(:mod:`index.hunt.checkpoint`). A crash loses no hit (the batch in hand is done again)
and doubles none (the alert store's dedup). ``progress`` is told after every batch;
``stop`` ends the hunt after the batch in hand. Reads the ``hunt`` section.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from config.sections.hunt import HuntSettings
from documents import Document
from index.backends.base import Backend
from index.hunt import scan
from index.hunt.alerts import RetroAlerter
from index.hunt.checkpoint import Checkpoints
from index.hunt.targets import HuntTarget, Lookup

log = logging.getLogger(__name__)


@dataclass
class KindReport:
    kind: str
    total: int = 0  # documents the scan reads, or list values looked up (counted at the start)
    scanned: int = 0  # so far, over every run of this hunt
    hits: int = 0
    done: bool = False
    unit: str = "documents"  # what ``scanned`` counts: "documents" scanned, or "values"


@dataclass
class HuntReport:
    label: str
    key: str
    kinds: dict[str, KindReport] = field(default_factory=dict)
    alerts: int = 0  # alerts created or changed by this run
    resumed: bool = False
    already_done: bool = False
    invalid: int = 0
    seconds: float = 0.0

    @property
    def hits(self) -> int:
        return sum(k.hits for k in self.kinds.values())

    @property
    def scanned(self) -> int:
        return sum(k.scanned for k in self.kinds.values())


Progress = Callable[[KindReport, float], None]  # the kind's report, documents/s this run


async def run_hunt(
    target: HuntTarget,
    backend: Backend,
    checkpoints: Checkpoints,
    alerter: RetroAlerter,
    append: Callable[[Iterable[Document]], int],
    settings: HuntSettings,
    *,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
) -> HuntReport:
    """Hunt ``target`` over what ``backend`` holds; resumes from ``checkpoints``."""
    report = HuntReport(target.label, target.key)
    started = time.monotonic()
    states = {k: checkpoints.get(target.key, k) for k in target.kinds}
    report.resumed = any(s.scanned or s.done for s in states.values())
    report.already_done = all(s.done for s in states.values())
    run = _Run(target, backend, checkpoints, alerter, append, settings, report, progress, stop)
    for kind in target.kinds:
        state = states[kind]
        kr = report.kinds[kind] = KindReport(kind, scanned=state.scanned, hits=state.hits,
                                            done=state.done)
        if state.done:
            continue
        lookups = target.lookups(kind)
        if lookups is not None:
            kr.unit = "values"
            finished = await run.lookup(kr, lookups, state.cursor)
        else:
            finished = await run.scan(kr, state.cursor)
        if not finished:
            break
        checkpoints.finish(target.key, kind)
        kr.done = True
        log.info("retro-hunt of %s: %s done, %d %s, %d hits", target.label, kind,
                 kr.scanned, kr.unit, kr.hits)
    report.seconds = time.monotonic() - started
    return report


class _Run:
    """One run of a hunt: the per-batch work both ways of reading a kind share."""

    def __init__(self, target: HuntTarget, backend: Backend, checkpoints: Checkpoints,
                 alerter: RetroAlerter, append: Callable[[Iterable[Document]], int],
                 settings: HuntSettings, report: HuntReport, progress: Progress | None,
                 stop: asyncio.Event | None):
        self.target = target
        self.backend = backend
        self.checkpoints = checkpoints
        self.alerter = alerter
        self.append = append
        self.settings = settings
        self.report = report
        self.progress = progress
        self.stop = stop
        self.rules = target.all_rules()

    async def _batch(self, batch: scan.Batch) -> int:
        """Alert and spool the hits of one batch; returns how many documents were hit."""
        hits = await asyncio.to_thread(self.target.hits, batch.docs)
        firings = [f for h in hits for f in h.firings]
        self.report.alerts += await asyncio.to_thread(self.alerter.raise_alerts, firings,
                                                      self.rules)
        marked = [h.marked for h in hits if h.marked is not None]
        if marked:
            self.append(marked)
        self.report.invalid += batch.invalid
        return len(hits)

    async def _after_step(self, kr: KindReport, done: int, started: float) -> bool:
        """Tell the progress; returns whether to go on."""
        if self.progress is not None:
            self.progress(kr, done / max(time.monotonic() - started, 1e-6))
        if self.stop is not None and self.stop.is_set():
            return False
        if self.settings.batch_pause_s:
            await asyncio.sleep(self.settings.batch_pause_s)
        return True

    async def scan(self, kr: KindReport, cursor: tuple[object, ...] | None) -> bool:
        """Every document of the kind after ``cursor``; False when stopped part-way."""
        key, kind = self.target.key, kr.kind
        query = self.target.query(kind)
        kr.total = await scan.count(self.backend, kind, query)
        started, done = time.monotonic(), 0
        async for batch in scan.batches(self.backend, kind, size=self.settings.batch_size,
                                        after=cursor, query=query):
            n = await self._batch(batch)
            self.checkpoints.advance(key, kind, batch.cursor, batch.read, n)
            kr.scanned += batch.read
            kr.hits += n
            done += batch.read
            if not await self._after_step(kr, done, started):
                return False
        return True

    async def lookup(self, kr: KindReport, lookups: list[Lookup],
                     cursor: tuple[object, ...] | None) -> bool:
        """The candidates of each chunk of values from ``cursor`` (a chunk number) on."""
        key, kind = self.target.key, kr.kind
        kr.total = sum(x.values for x in lookups)
        first = int(cursor[0]) if cursor else 0  # type: ignore[call-overload]
        started, done = time.monotonic(), 0
        for n in range(first, len(lookups)):
            hit = 0
            async for batch in scan.batches(self.backend, kind, size=self.settings.batch_size,
                                            query=lookups[n].query):
                hit += await self._batch(batch)
            # A chunk is checkpointed whole: killed part-way, it is asked again.
            self.checkpoints.advance(key, kind, (n + 1,), lookups[n].values, hit)
            kr.scanned += lookups[n].values
            kr.hits += hit
            done += lookups[n].values
            if not await self._after_step(kr, done, started):
                return False
        return True
