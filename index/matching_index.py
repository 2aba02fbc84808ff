"""The matcher's in-memory view of the membership store: exact pre-filter plus PDQ search.

Exact types: a sorted array of 64-bit keys (8 bytes per value) answers "certainly not
flagged" for almost every probe with one vectorised ``searchsorted``; each candidate is
then confirmed against the membership store, so membership is exact. PDQ: the flagged
hashes searched by Hamming distance, all probes of a batch at once (index.matching_mih:
multi-index hashing for large sets, index.matching_pdq's full scan for small ones);
hashes within reach are confirmed the same way.

Lists have a say (:class:`~index.hashsets.lists.ListInfo`): a paused list matches nothing;
a PDQ entry matches within its own list's distance (``matching.pdq_max_distance`` when the
list has none), so the search reaches as far as the farthest list; a hit on a flag list is
suppressed when the same subject (a page's media file, or else the value itself) is also
on an active negative list, and reported as such. The eight turned and mirrored PDQ
hashes of one image (probes naming a ``transform``) give at most one match per list entry:
the nearest, the untransformed image first on a tie. Reads ``matching.pdq_max_distance``
and ``matching.pdq_min_quality``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from config.sections.matching import MatchingSettings
from documents import Match
from index.hashsets.lists import ListInfo
from index.hashsets.membership import Entry, MembershipStore, prefilter_key
from index.matching_fields import PDQ_TRANSFORMS, Probe
from index.matching_mih import pdq_index
from index.matching_pdq import pdq_words

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeMatch:
    position: int  # of the probe in the list given to match()
    probe: Probe
    match: Match
    stored: str = ""  # the list entry's value (for PDQ: the flagged hash, not the probe's)


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A flag-list hit a negative list suppressed: never flagged, only counted."""

    hit: ProbeMatch
    by: str  # the negative list


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    hits: list[ProbeMatch]
    suppressed: list[Suppressed]


class FlaggedIndex:
    def __init__(self, store: MembershipStore, settings: MatchingSettings):
        self.store = store
        self.settings = settings
        self.generation = -1
        self.keys = np.zeros(0, dtype=np.int64)
        self.lists: dict[str, ListInfo] = {}
        self.pdq = pdq_index(np.zeros((0, 4), dtype=np.uint64), settings.pdq_max_distance)

    def load(self) -> bool:
        """Rebuild from the store when its generation changed; returns whether it did."""
        generation = self.store.generation()
        if generation == self.generation:
            return False
        self.lists = self.store.list_infos()
        self.keys = self.store.exact_keys()
        words = self.store.pdq_values()
        self.pdq = pdq_index(words, self._pdq_reach())
        self.generation = generation
        log.info(
            "flagged values loaded: %d exact, %d PDQ within %d bits (generation %d)",
            len(self.keys),
            self.pdq.n,
            self.pdq.max_distance,
            generation,
        )
        return True

    def _pdq_reach(self) -> int:
        default = self.settings.pdq_max_distance
        pdq_lists = {s.list for s in self.store.lists() if s.type == "pdq"}
        reach = [self.info(n).pdq_distance(default) for n in pdq_lists if self.info(n).active]
        return max(reach, default=default)

    def info(self, name: str) -> ListInfo:
        return self.lists.get(name) or ListInfo(name)

    def match(
        self, probes: Sequence[Probe], owners: Sequence[int] | None = None
    ) -> list[ProbeMatch]:
        """Every (probe, flag-list entry) hit that stands (none suppressed)."""
        return self.match_all(probes, owners).hits

    def match_all(
        self, probes: Sequence[Probe], owners: Sequence[int] | None = None
    ) -> MatchOutcome:
        """Hits and suppressed hits; one vectorised pre-filter pass for all probes.

        ``owners[i]``: the document probe ``i`` comes from (a media file's values are one
        subject for the negative lists); without it, every probe is of one document.
        """
        found: list[tuple[int, str, int | None, list[Entry]]] = []
        exact = [i for i, p in enumerate(probes) if p.type != "pdq"]
        if exact and len(self.keys):
            wanted = np.fromiter(
                (prefilter_key(probes[i].type, probes[i].value) for i in exact),
                dtype=np.int64, count=len(exact),
            )
            pos = np.searchsorted(self.keys, wanted)
            pos[pos == len(self.keys)] = 0
            for j in np.flatnonzero(self.keys[pos] == wanted):
                i = exact[j]
                found.append((i, probes[i].value, None, self.store.lookup(probes[i].type,
                                                                          probes[i].value)))
        floor = self.settings.pdq_min_quality
        near = [
            i for i, p in enumerate(probes)
            if p.type == "pdq" and (p.quality is None or p.quality >= floor)
        ] if self.pdq.n else []
        if near:
            queries = pdq_words(probes[i].value for i in near)
            for i, nearby in zip(near, self.pdq.near_many(queries), strict=True):
                for hex_value, distance in self._nearest_first(*nearby):
                    found.append((i, hex_value, distance, self.store.lookup("pdq", hex_value)))
        return self._decide(probes, owners, found)

    def _decide(
        self,
        probes: Sequence[Probe],
        owners: Sequence[int] | None,
        found: list[tuple[int, str, int | None, list[Entry]]],
    ) -> MatchOutcome:
        default = self.settings.pdq_max_distance
        flags: dict[object, list[ProbeMatch]] = {}
        negatives: dict[object, str] = {}
        for i, stored, distance, entries in found:
            probe = probes[i]
            owner = owners[i] if owners is not None else 0
            subject = (owner, "media", probe.media) if probe.media is not None else i
            for e in entries:
                info = self.info(e.list)
                if not info.active or (
                    distance is not None and distance > info.pdq_distance(default)
                ):
                    continue
                if info.negative:
                    negatives.setdefault(subject, e.list)
                else:
                    flags.setdefault(subject, []).append(_hit(i, probe, e, stored, distance))
        hits: list[ProbeMatch] = []
        suppressed: list[Suppressed] = []
        for subject, subject_hits in flags.items():
            by = negatives.get(subject)
            if by is not None:
                suppressed += [Suppressed(h, by) for h in _one_per_entry(subject_hits)]
            else:
                hits += _one_per_entry(subject_hits)
        hits.sort(key=lambda h: h.position)
        return MatchOutcome(hits, suppressed)

    def pdq_near(self, hex_value: str) -> list[tuple[str, int]]:
        """Flagged PDQ hashes within reach of one hash (the farthest list's), nearest first."""
        query = pdq_words((hex_value,))[0]
        return self._nearest_first(*self.pdq.near(query))

    def _nearest_first(self, indices: np.ndarray, distances: np.ndarray) -> list[tuple[str, int]]:
        found = sorted(zip(distances.tolist(), indices.tolist(), strict=True))
        return [(self.pdq.hex_of(i), d) for d, i in found]


_TRANSFORM_ORDER = {name: n for n, name in enumerate(PDQ_TRANSFORMS)}


def _hit(position: int, probe: Probe, e: Entry, stored: str, distance: int | None) -> ProbeMatch:
    match = Match(
        list=e.list,
        type=e.type,
        value=probe.value,
        field=probe.field,
        category=e.category,
        entry=e.entry,
        distance=distance,
        transform=probe.transform,
    )
    return ProbeMatch(position, probe, match, stored)


def _one_per_entry(hits: list[ProbeMatch]) -> list[ProbeMatch]:
    """Hits of turned/mirrored versions of one image: the best per list entry; others as is."""
    best: dict[tuple[object, ...], ProbeMatch] = {}
    out: list[ProbeMatch] = []
    for h in hits:
        if h.probe.transform is None:
            out.append(h)
            continue
        key = (h.probe.media, h.probe.field, h.match.list, h.match.type, h.stored)
        rank = (h.match.distance or 0, _TRANSFORM_ORDER.get(h.probe.transform, 99))
        kept = best.get(key)
        if kept is None or rank < (kept.match.distance or 0,
                                   _TRANSFORM_ORDER.get(kept.probe.transform or "", 99)):
            best[key] = h
    return out + list(best.values())
