"""The analyse role: read new and changed documents from the index, update the link graph
and the clusters, write ``cluster`` documents through the spool, raise relaunch alerts.

:class:`Analyser` reads ``page`` documents by ``fetched_at`` and ``service`` documents by
``last_seen`` (its cursor, minus ``cursor_overlap_s`` for documents that reached the index
late; records already analysed are skipped), in batches of ``batch_size``. Each batch is
recorded in the analysis store in one transaction with the cursor (pages: their values,
text signature and image hashes, compared as they arrive); then the clusters the
batch touched are regrouped and their documents spooled (:mod:`analysis.clustering`), then
relaunch candidates are recorded and alerted (:mod:`analysis.relaunch`). Killed at any point
and run again, it reaches the same clusters: nothing is lost and no record counts twice.
:class:`AnalyseRole` runs it once, or (``forever``) every ``poll_s`` until stopped.
Reads the ``analysis`` and ``alerts`` settings and ``data_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerting.db import alert_db_path
from analysis.clustering import update_clusters
from analysis.common import CommonValues, Suppression, load_suppression
from analysis.graph import Commonness, Graph, LinkPolicy, NothingCommon
from analysis.neardup import NearDuplicates
from analysis.pairs import closest_per_member
from analysis.pdqnear import PdqNear
from analysis.relaunch import RelaunchAlerter, decide, find_relaunches
from analysis.state import AnalysisDB, analysis_db_path
from analysis.values import epoch_ms, page_member, page_sightings, service_sightings
from config.sections.analysis import AnalysisSettings
from documents import Document
from index.backends.base import Backend
from query.model import MatchAll, Range, Search, SortField
from telemetry.sources import forget_analysis, watch_analysis

log = logging.getLogger(__name__)

# kind -> the time field its cursor follows
CURSORS = {"page": "fetched_at", "service": "last_seen"}


@dataclass
class Counters:
    pages: int = 0
    services: int = 0
    skipped: int = 0
    clusters_written: int = 0
    relaunches: int = 0
    batches: int = 0
    failed: int = 0


class Analyser:
    """One analysis pass over what the index holds that was not analysed yet."""

    def __init__(
        self,
        settings: AnalysisSettings,
        db: AnalysisDB,
        append: Callable[[Iterable[Document]], int],
        *,
        common: Commonness | None = None,
        alerter: RelaunchAlerter | None = None,
        suppression: Suppression | None = None,
    ):
        self.settings = settings
        self.db = db
        self.append = append
        self.alerter = alerter
        self.common = common
        self.suppression = suppression
        self.graph = Graph(db, LinkPolicy(min_weight=settings.cluster_min_weight,
                                          weak_weight=settings.weak_weight),
                           common or NothingCommon())
        self.near = NearDuplicates(threshold=settings.minhash_threshold,
                                   num_perm=settings.minhash_num_perm,
                                   shingle_words=settings.shingle_words)
        self._band_signatures()
        self._load_images()
        self.counters = Counters()

    def _band_signatures(self) -> None:
        """The kept signatures' band keys, made again if they were made for another layout
        (a store from before band keys, or other MinHash settings)."""
        layout = self.near.layout.as_text()
        if self.db.band_layout() == layout:
            return
        began = time.monotonic()

        def keys_of(raw: bytes) -> list[int] | None:
            sig = self.near.from_bytes(raw)
            return None if sig is None else self.near.band_keys(sig)

        banded = self.db.rebuild_bands(layout, keys_of)
        log.warning("analysis store: band keys of %d text signatures made for %s in %.1f s",
                    banded, layout, time.monotonic() - began)

    def _load_images(self) -> None:
        """The in-memory image index, as the analysis store holds it."""
        self.pdq = PdqNear(self.settings.pdq_distance)
        for record, hex_value in self.db.pdqs():
            self.pdq.restore(record, hex_value)

    async def run_once(self, backend: Backend, stop: asyncio.Event | None = None) -> Counters:
        """Analyse every new document, batch by batch; returns the counters.

        Without a ``common`` test given to the constructor, the common values are counted
        in the index at the start of each pass (:class:`analysis.common.CommonValues`).
        """
        if self.common is None:
            self.graph.common = await CommonValues.load(self.settings, backend,
                                                        self.suppression)
        for kind in CURSORS:
            await self._read_kind(backend, kind, stop)
        self._finish_batch()
        return self.counters

    async def _read_kind(self, backend: Backend, kind: str, stop: asyncio.Event | None) -> None:
        time_field = CURSORS[kind]
        since = self.db.cursor(kind)
        query: Any = MatchAll()
        if since is not None:
            start = since - int(self.settings.cursor_overlap_s * 1000)
            query = Range(time_field, gte=datetime.fromtimestamp(max(start, 0) / 1000, UTC))
        after = None
        while stop is None or not stop.is_set():
            result = await backend.search(Search(
                kind=kind, query=query, size=self.settings.batch_size,
                sort=(SortField(time_field, "asc"),), search_after=after))
            hits = result["hits"]["hits"]
            if not hits:
                return
            self._record_batch(kind, hits)
            self._finish_batch()
            after = tuple(hits[-1]["sort"])
            if len(hits) < self.settings.batch_size:
                return

    def _record_batch(self, kind: str, hits: list[dict[str, Any]]) -> None:
        try:
            with self.db.transaction() as conn:
                self._record_hits(conn, kind, hits)
        except BaseException:
            # The batch was rolled back: the in-memory image index goes back to what is stored.
            self._load_images()
            raise
        self.counters.batches += 1

    def _record_hits(self, conn: Any, kind: str, hits: list[dict[str, Any]]) -> None:
        newest = None
        for hit in hits:
            source, doc_id = hit["_source"], hit["_id"]
            try:
                at = epoch_ms(source[CURSORS[kind]])
            except (KeyError, ValueError, TypeError) as exc:
                self.counters.failed += 1
                log.warning("%s %s: no readable %s (%s); not analysed", kind, doc_id,
                            CURSORS[kind], exc)
                continue
            newest = at if newest is None else max(newest, at)
            record = doc_id if kind == "page" else f"{doc_id}@{at}"
            if self.db.is_done(record):
                self.counters.skipped += 1
                continue
            if kind == "page":
                self._page(conn, source, doc_id, at)
                self.counters.pages += 1
            else:
                self._service(conn, source, doc_id, at)
                self.counters.services += 1
            AnalysisDB.mark_done(conn, record)
        if newest is not None:
            AnalysisDB.set_cursor(conn, kind, newest)

    def _page(self, conn: Any, source: dict[str, Any], doc_id: str, at: int) -> None:
        member, kind = page_member(source, self.settings.ad_boards)
        if not member:
            return
        AnalysisDB.touch_member(conn, member, kind, at)
        sightings = page_sightings(source, doc_id, self.settings.ad_boards)
        for torrent in {s.member for s in sightings if s.kind == "torrent"}:
            AnalysisDB.touch_member(conn, torrent, "torrent", at)
        AnalysisDB.add_sightings(conn, sightings)
        sig = self.near.signature(str(source.get("text") or ""))
        if sig is not None:
            candidates = AnalysisDB.keep_minhash(conn, doc_id, member, at, sig.tobytes(),
                                                 self.near.band_keys(sig))
            carriers = {record: (other, other_ms) for record, other, other_ms, _ in candidates}
            near = self.near.near(sig, [(c[0], c[3]) for c in candidates])
            for record, jaccard in closest_per_member(near, carriers.get, member, higher=True):
                AnalysisDB.add_near(conn, "text_near", (doc_id, member, at),
                                    (record, *carriers[record]), jaccard)
        pictures: list[tuple[str, float]] = []
        for media in source.get("media") or ():
            hex_value = media.get("pdq") if isinstance(media, dict) else None
            if not hex_value:
                continue
            if not AnalysisDB.add_pdq(conn, doc_id, member, at, str(hex_value)):
                continue  # the same picture twice on the page
            pictures += self.pdq.add(doc_id, str(hex_value))
        if pictures:
            holders = {r: self.db.pdq_member(r) for r in {r for r, _ in pictures}}
            for record, distance in closest_per_member(pictures, holders.get, member,
                                                       higher=False):
                AnalysisDB.add_near(conn, "pdq_near", (doc_id, member, at),
                                    (record, *holders[record]), distance)

    def _service(self, conn: Any, source: dict[str, Any], doc_id: str, at: int) -> None:
        host = str(source.get("host") or "")
        if not host:
            return
        last_up = source.get("last_up")
        first = source.get("first_seen")
        AnalysisDB.touch_member(conn, host, "service", at, up=bool(source.get("up")),
                                last_up_ms=epoch_ms(last_up) if last_up else None,
                                first_ms=epoch_ms(first) if first else None)
        AnalysisDB.add_sightings(conn, service_sightings(source, doc_id))

    def _finish_batch(self) -> None:
        docs, commit = update_clusters(self.db, self.graph)
        if docs:
            self.append(docs)
            self.counters.clusters_written += len(docs)
        commit()
        for relaunch in find_relaunches(self.db, self.graph, self.settings.relaunch_min_links):
            self.db.add_relaunch(relaunch)
            self.counters.relaunches += 1
            log.warning("relaunch candidate: %s -> %s (%d links, confidence %.2f)",
                        relaunch.old, relaunch.new, relaunch.links, relaunch.confidence)
            if relaunch.confidence > self.settings.relaunch_auto_confidence:
                decide(self.db, self.alerter.db_path if self.alerter else None,
                       relaunch.old, relaunch.new, "confirmed", "(automatic)",
                       relaunch.found_ms)
                log.warning("relaunch %s -> %s confirmed automatically (confidence %.2f above "
                            "analysis.relaunch_auto_confidence): watches and alert rules "
                            "follow the new onion",
                            relaunch.old, relaunch.new, relaunch.confidence)
        pending = self.db.unalerted()
        if pending and self.alerter is not None:
            self.alerter.raise_alerts(pending)
            self.db.mark_alerted(pending)


class AnalyseRole:
    """``heroes analyse``: one pass, or (``forever``) a pass every ``poll_s`` until stopped.

    Entering reads the suppression files (:class:`analysis.common.SuppressionError` naming
    the file and line when one does not read).

    Each pass opens the index read-only (so it sees the latest commits) and appends the
    cluster and alert documents to the spool; the process holding the writer drains them.
    """

    name = "analyse"

    def __init__(self, store: Any, *, forever: bool = False,
                 common: Commonness | None = None):
        self.store = store
        self.settings: AnalysisSettings = store.settings.analysis
        self.forever = forever
        self.common = common
        self.db: AnalysisDB | None = None
        self.analyser: Analyser | None = None
        self._metrics_key = f"analyse:{id(self)}"

    @property
    def counters(self) -> Counters:
        return self.analyser.counters if self.analyser is not None else Counters()

    async def __aenter__(self) -> AnalyseRole:
        # A suppression file that does not read stops the role before any work.
        suppression = load_suppression(self.settings.suppress_files)
        self.db = AnalysisDB(analysis_db_path(self.store.data_dir))
        settings = self.store.settings
        alerter = RelaunchAlerter(settings.alerts, list(self.settings.relaunch_recipients),
                                  alert_db_path(settings.data_dir), self.store.append)
        self.analyser = Analyser(self.settings, self.db, self.store.append,
                                 common=self.common, alerter=alerter, suppression=suppression)
        watch_analysis(self._metrics_key, lambda: self.counters, self.db)
        return self

    async def __aexit__(self, *exc: object) -> None:
        forget_analysis(self._metrics_key)
        if self.db is not None:
            self.db.close()
            self.db = None

    async def run(self, stop: asyncio.Event) -> None:
        if self.analyser is None:
            raise RuntimeError("AnalyseRole.run outside 'async with'")
        while True:
            async with self.store.reader() as backend:
                await self.analyser.run_once(backend, stop)
            if not self.forever or stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_s)
            if stop.is_set():
                return
