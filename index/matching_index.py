"""The matcher's in-memory view of the membership store: exact pre-filter plus PDQ search.

Exact types: a sorted array of 64-bit keys (8 bytes per value) answers "certainly not
flagged" for almost every probe with one vectorised ``searchsorted``; each candidate is
then confirmed against the membership store, so membership is exact. PDQ: the flagged
hashes as uint64 words searched by Hamming distance (index.matching_pdq: full scan for
small sets, multi-index hashing for large ones); hashes within ``pdq_max_distance`` are
confirmed the same way. Reads ``matching.pdq_max_distance`` and ``matching.pdq_min_quality``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from config.sections.matching import MatchingSettings
from index.documents import Match
from index.hashsets.membership import MembershipStore, prefilter_key
from index.matching_fields import Probe
from index.matching_pdq import PdqIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeMatch:
    position: int  # of the probe in the list given to match()
    probe: Probe
    match: Match


class FlaggedIndex:
    def __init__(self, store: MembershipStore, settings: MatchingSettings):
        self.store = store
        self.settings = settings
        self.generation = -1
        self.keys = np.zeros(0, dtype=np.int64)
        self.pdq = PdqIndex(np.zeros((0, 4), dtype=np.uint64), settings.pdq_max_distance)

    def load(self) -> bool:
        """Rebuild from the store when its generation changed; returns whether it did."""
        generation = self.store.generation()
        if generation == self.generation:
            return False
        self.keys = self.store.exact_keys()
        words = self.store.pdq_values()
        self.pdq = PdqIndex(words, self.settings.pdq_max_distance)
        self.generation = generation
        log.info(
            "flagged values loaded: %d exact, %d PDQ (generation %d)",
            len(self.keys),
            self.pdq.n,
            generation,
        )
        return True

    def match(self, probes: Sequence[Probe]) -> list[ProbeMatch]:
        """Every (probe, list entry) match; one vectorised pre-filter pass for all probes."""
        exact = [i for i, p in enumerate(probes) if p.type != "pdq"]
        out: list[ProbeMatch] = []
        if exact and len(self.keys):
            wanted = np.fromiter(
                (prefilter_key(probes[i].type, probes[i].value) for i in exact),
                dtype=np.int64, count=len(exact),
            )
            pos = np.searchsorted(self.keys, wanted)
            pos[pos == len(self.keys)] = 0
            for j in np.flatnonzero(self.keys[pos] == wanted):
                i = exact[j]
                out.extend(self._confirm(i, probes[i], probes[i].value, None))
        for i, probe in enumerate(probes):
            if probe.type == "pdq" and self.pdq.n:
                if probe.quality is not None and probe.quality < self.settings.pdq_min_quality:
                    continue
                for hex_value, distance in self.pdq_near(probe.value):
                    out.extend(self._confirm(i, probe, hex_value, distance))
        return out

    def pdq_near(self, hex_value: str) -> list[tuple[str, int]]:
        """Flagged PDQ hashes within ``pdq_max_distance`` of one hash, nearest first."""
        query = np.frombuffer(bytes.fromhex(hex_value), dtype=">u8").astype(np.uint64)
        indices, distances = self.pdq.near(query)
        found = sorted(zip(distances.tolist(), indices.tolist(), strict=True))
        return [(self.pdq.hex_of(i), d) for d, i in found]

    def _confirm(
        self, position: int, probe: Probe, stored_value: str, distance: int | None
    ) -> list[ProbeMatch]:
        return [
            ProbeMatch(
                position,
                probe,
                Match(
                    list=e.list,
                    type=e.type,
                    value=probe.value,
                    field=probe.field,
                    category=e.category,
                    entry=e.entry,
                    distance=distance,
                ),
            )
            for e in self.store.lookup(probe.type, stored_value)
        ]
