"""vPDQ matching: does a video match a flagged video's frames, how much, and where.

vPDQ (ThreatExchange ``vpdq/README.md``) treats a video as a bag of frame PDQ hashes. For
a query video Q and a list entry C, both reduced to their distinct frame hashes of quality
``matching.pdq_min_quality`` or more:

- the query fraction is the share of Q's hashes within ``matching.pdq_max_distance`` of
  some hash of C; the entry fraction the share of C's hashes within it of some hash of Q;
- Q matches C when EITHER fraction is at least ``matching.vpdq_match_fraction`` (both,
  with ``matching.vpdq_require_both``). vPDQ's rule is a threshold on each share; its two
  published settings each require one share and leave the other at 0 %: python-threatexchange
  80 % of the query (Q is a clip, a trim or a re-encoding of C), the vPDQ README 80 % of the
  compared video (Q holds C, with frames inserted or inside a compilation). A monitor wants
  both cases, so either passing is a match; both fractions are reported, so a reviewer
  sees which case it is.

Both fractions are reported with each match, and so are the matched time ranges: the runs
of consecutive (comparable, time-ordered) query frames that are near the entry, as
``(start_s, end_s)`` on the query's time axis.

Speed against many entries (vPDQ's "pruning candidate videos"): every distinct frame hash
of every entry goes into ONE PDQ index (:func:`index.matching_mih.pdq_index`:
multi-index hashing for large sets, the full scan for small ones), so a query costs one
batched near-neighbour search for its frames; the (query frame, entry frame) pairs found
are then counted per entry with numpy, touching only entries that share a near frame.
The result is the brute-force comparison's (a test checks it).

:class:`VpdqIndex` is pure (frames in, hits out); :class:`VpdqMatcher` is the drain's view of
the membership store's ``vpdq`` entries. Reads ``matching.pdq_max_distance``,
``matching.pdq_min_quality``, ``matching.vpdq_match_fraction`` and
``matching.vpdq_require_both``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from config.sections.matching import MatchingSettings
from documents import Document, Match, Page
from identifiers import InvalidIdentifier
from identifiers.vpdq import VpdqFrame, frames_of
from index.hashsets.lists import ListInfo
from index.hashsets.membership import Entry, MembershipStore
from index.matching_fields import Probe
from index.matching_index import MatchOutcome, ProbeMatch, Suppressed
from index.matching_mih import pdq_index
from index.matching_pdq import pdq_words

log = logging.getLogger(__name__)

FIELD = "media.vpdq"
# Shares are compared as counts; this absorbs the float error of fraction * count.
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class VpdqHit:
    key: str  # the entry's key as given to VpdqIndex (at drain: its canonical value)
    query_fraction: float  # share of the query's distinct comparable frames near the entry
    entry_fraction: float  # share of the entry's distinct comparable frames near the query
    time_ranges: list[tuple[float, float]]  # runs of matched query frames, seconds


class VpdqIndex:
    """Flagged videos, searchable by a query video's frames."""

    def __init__(
        self,
        videos: Sequence[tuple[str, Sequence[VpdqFrame]]],
        *,
        max_distance: int = 31,
        min_quality: int = 50,
        match_fraction: float = 0.8,
        require_both: bool = False,
    ):
        self.max_distance = max_distance
        self.min_quality = min_quality
        self.match_fraction = match_fraction
        self.require_both = require_both
        self.keys: list[str] = []
        hash_ids: dict[str, int] = {}
        pair_hash: list[int] = []
        pair_entry: list[int] = []
        sizes: list[int] = []
        for key, frames in videos:
            distinct = {f.pdq for f in frames if f.q >= min_quality}
            if not distinct:
                continue  # no frame good enough to compare: it can match nothing
            entry = len(self.keys)
            self.keys.append(key)
            sizes.append(len(distinct))
            for pdq in distinct:
                pair_hash.append(hash_ids.setdefault(pdq, len(hash_ids)))
                pair_entry.append(entry)
        self.sizes = np.asarray(sizes, dtype=np.int64)
        # (entry, frame hash) pairs grouped by hash: the entries holding hash g are
        # pair_entry[starts[g]:starts[g] + counts[g]].
        hashes = np.asarray(pair_hash, dtype=np.int64)
        order = np.argsort(hashes, kind="stable")
        self._pair_entry = np.asarray(pair_entry, dtype=np.int64)[order]
        self._counts = np.bincount(hashes, minlength=len(hash_ids)).astype(np.int64)
        self._starts = np.cumsum(self._counts) - self._counts
        self.frames = len(hash_ids)
        self._pdq = pdq_index(pdq_words(hash_ids), max_distance)

    def __len__(self) -> int:
        return len(self.keys)

    def match(self, frames: Sequence[VpdqFrame]) -> list[VpdqHit]:
        """The entries the query video matches, best query fraction first."""
        timeline = sorted(f for f in frames if f.q >= self.min_quality)
        if not timeline or not self.keys:
            return []
        query_ids: dict[str, int] = {}
        frame_query = np.fromiter(
            (query_ids.setdefault(f.pdq, len(query_ids)) for f in timeline),
            dtype=np.int64,
            count=len(timeline),
        )
        n_query = len(query_ids)
        found = self._pdq.near_many(pdq_words(query_ids))
        lengths = np.fromiter((len(ix) for ix, _ in found), dtype=np.int64, count=n_query)
        if not lengths.sum():
            return []
        near_query = np.repeat(np.arange(n_query, dtype=np.int64), lengths)
        near_hash = np.concatenate([ix for ix, _ in found])
        # Every (query hash, entry pair) behind each near (query hash, entry hash).
        counts = self._counts[near_hash]
        total = int(counts.sum())
        within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        pair = np.repeat(self._starts[near_hash], counts) + within
        query = np.repeat(near_query, counts)
        entry = self._pair_entry[pair]
        n_entries = len(self.keys)
        matched_query = np.bincount(
            np.unique(entry * n_query + query) // n_query, minlength=n_entries
        )
        matched_entry = np.bincount(self._pair_entry[np.unique(pair)], minlength=n_entries)
        query_passes = matched_query >= self.match_fraction * n_query - _EPS
        entry_passes = matched_entry >= self.match_fraction * self.sizes - _EPS
        passes = (query_passes & entry_passes) if self.require_both else (
            query_passes | entry_passes
        )
        passes &= matched_query > 0
        hits = []
        for e in np.flatnonzero(passes).tolist():
            near = np.zeros(n_query, dtype=bool)
            near[query[entry == e]] = True
            hits.append(
                VpdqHit(
                    self.keys[e],
                    round(float(matched_query[e]) / n_query, 4),
                    round(float(matched_entry[e]) / float(self.sizes[e]), 4),
                    _runs(timeline, near[frame_query]),
                )
            )
        hits.sort(key=lambda h: (-h.query_fraction, -h.entry_fraction, h.key))
        return hits


def _runs(timeline: Sequence[VpdqFrame], matched: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of each run of consecutive matched frames of the time-ordered query."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    last = 0.0
    for f, hit in zip(timeline, matched.tolist(), strict=True):
        if hit:
            if start is None:
                start = f.t
            last = f.t
        elif start is not None:
            out.append((start, last))
            start = None
    if start is not None:
        out.append((start, last))
    return out


def frames_of_media(media: Any) -> tuple[VpdqFrame, ...]:
    """The vPDQ frames a page's media carries (``Media.vpdq``); () when none or unreadable."""
    raw = getattr(media, "vpdq", None)
    if not raw:
        return ()
    try:
        return frames_of(raw)
    except InvalidIdentifier as exc:
        # The crawler wrote these; a bad frame is a bug there, not a reason to lose the page.
        log.warning("media %s: vPDQ not matched: %s", getattr(media, "url", "?"), exc)
        return ()


class VpdqMatcher:
    """The ``vpdq`` entries of the membership store, rebuilt when the store changes.

    Lists have their say as for PDQ (:class:`~index.hashsets.lists.ListInfo`): a paused list
    matches nothing; a list's own distance is its frames' match distance (one
    :class:`VpdqIndex` per distance in use); a video that also matches an entry of an
    active negative list has its flag-list hits suppressed, and reported as such. A reload
    rebuilds only the indexes whose videos changed.
    """

    def __init__(self, store: MembershipStore, settings: MatchingSettings):
        self.store = store
        self.settings = settings
        self.generation = -1
        # (distance, negative) -> the index of the entries of such lists, and their entries
        self.indexes: dict[tuple[int, bool], VpdqIndex] = {}
        self.entries: dict[tuple[int, bool], dict[str, list[Entry]]] = {}

    def _index(
        self, videos: Sequence[tuple[str, Sequence[VpdqFrame]]], distance: int
    ) -> VpdqIndex:
        s = self.settings
        return VpdqIndex(
            videos,
            max_distance=distance,
            min_quality=s.pdq_min_quality,
            match_fraction=s.vpdq_match_fraction,
            require_both=s.vpdq_require_both,
        )

    def __len__(self) -> int:
        return sum(len(i) for i in self.indexes.values())

    def load(self) -> bool:
        """Rebuild from the store when its generation changed; returns whether it did."""
        generation = self.store.generation()
        if generation == self.generation:
            return False
        infos = self.store.list_infos()
        default = self.settings.pdq_max_distance
        groups: dict[tuple[int, bool], dict[str, list[Entry]]] = {}
        for e in self.store.entries_of_type("vpdq"):
            info = infos.get(e.list) or ListInfo(e.list)
            if info.active:
                group = groups.setdefault((info.pdq_distance(default), info.negative), {})
                group.setdefault(e.value, []).append(e)
        indexes = {}
        for key, entries in groups.items():
            old = self.entries.get(key)
            if old is not None and old.keys() == entries.keys():
                # Same videos (another list, a category or a setting changed): building the
                # index of a big list costs far more than comparing its values.
                indexes[key] = self.indexes[key]
                continue
            videos = []
            for value in entries:
                try:
                    videos.append((value, frames_of(value)))
                except InvalidIdentifier as exc:  # stored canonical: only a hand-edited store
                    log.warning("vPDQ entry skipped: %s", exc)
            indexes[key] = self._index(videos, key[0])
        self.indexes, self.entries, self.generation = indexes, groups, generation
        log.info(
            "flagged videos loaded: %d vPDQ, %d distinct frames (generation %d)",
            len(self), sum(i.frames for i in indexes.values()), generation,
        )
        return True

    def matches_for_page(self, page: Page) -> list[tuple[int, Match]]:
        """(media index, Match) for each flag-list entry a video of the page matches; a video
        a negative list holds matches nothing."""
        flags, negatives = self._page_hits(page)
        return [(i, m) for i, m, _ in flags if i not in negatives]

    def match_into(
        self,
        outcome: MatchOutcome,
        docs: Sequence[Document],
        probes: list[Probe],
        owner: list[int],
    ) -> MatchOutcome:
        """``outcome`` with the vPDQ hits of the pages among ``docs`` added (or suppressed).

        Appends one probe per matched video to ``probes`` (and its document number to
        ``owner``) so that each hit's ``position`` names its probe, as for the other hits.
        """
        if not len(self):
            return outcome
        hits, suppressed = list(outcome.hits), list(outcome.suppressed)
        for n, doc in enumerate(docs):
            if not isinstance(doc, Page):
                continue
            flags, negatives = self._page_hits(doc)
            positions: dict[int, int] = {}
            for i, match, stored in flags:
                if i not in positions:
                    positions[i] = len(probes)
                    probes.append(Probe("vpdq", match.value, FIELD, media=i))
                    owner.append(n)
                hit = ProbeMatch(positions[i], probes[positions[i]], match, stored)
                if i in negatives:
                    suppressed.append(Suppressed(hit, negatives[i]))
                else:
                    hits.append(hit)
        return MatchOutcome(hits, suppressed)

    def _page_hits(self, page: Page) -> tuple[list[tuple[int, Match, str]], dict[int, str]]:
        """(media index, Match, entry value) of flag-list hits, and the media a negative
        list holds (media index -> that list)."""
        flags: list[tuple[int, Match, str]] = []
        negatives: dict[int, str] = {}
        if not self.indexes:
            return flags, negatives
        for i, media in enumerate(page.media):
            frames = frames_of_media(media)
            if not frames:
                continue
            for (distance, negative), index in self.indexes.items():
                entries = self.entries[distance, negative]
                for hit in index.match(frames):
                    for e in entries.get(hit.key, ()):
                        if negative:
                            negatives.setdefault(i, e.list)
                        else:
                            flags.append((i, vpdq_match(e, media, hit), hit.key))
        return flags, negatives


def vpdq_match(entry: Entry, media: Any, hit: VpdqHit) -> Match:
    """The Match of a video against one list entry; ``value`` names the video by its file
    digest (its url when it has none): the frame list itself is too long to index."""
    return Match(
        list=entry.list,
        type="vpdq",
        value=getattr(media, "sha256", None) or media.url,
        field=FIELD,
        category=entry.category,
        entry=entry.entry,
        time_ranges=tuple(hit.time_ranges),
        query_fraction=hit.query_fraction,
        entry_fraction=hit.entry_fraction,
    )
