"""Near-neighbour search over a large set of flagged PDQ hashes with FAISS (exact results).

FAISS's multi-index hashing (``IndexBinaryMultiHash``, as Hasher-Matcher-Actioner uses it):
the 256 bits are cut into 16 segments of 16 bits, each with a hash table from segment value
to hash ids. Two hashes within distance d agree, by pigeonhole, to within d // 16 bits on
at least one segment, so probing every segment value within that many flipped bits finds
every hash within d; each candidate's full distance is then computed in C++ and kept when
it is at most d. Results are therefore those of the full scan in :mod:`index.matching_pdq`
(a property test checks it), only found without touching every hash. A batch of queries is
one call, spread over the cores by FAISS's OpenMP threads.

:func:`pdq_index` picks the index for a list: the full scan below :data:`FAISS_MIN` hashes
(as fast, no extra memory), FAISS above. Reads no settings (the distance comes from
``matching.pdq_max_distance`` through the caller).
"""

from __future__ import annotations

import faiss
import numpy as np

from index.matching_pdq import PdqIndex

BITS = 256
SEGMENTS = 16
SEGMENT_BITS = BITS // SEGMENTS
# Measured here: at 500 hashes FAISS already answers a batch in 2/3 of the scan's time, and
# the gap widens with the list; below this a list is scanned, the simplest exact answer.
FAISS_MIN = 1_000

Found = tuple[np.ndarray, np.ndarray]  # indices, distances (int64)


def words_to_codes(words: np.ndarray) -> np.ndarray:
    """(N, 4) uint64 words (big-endian word order of the hex digits) as (N, 32) uint8 codes."""
    return np.ascontiguousarray(words.astype(">u8")).view(np.uint8).reshape(-1, BITS // 8)


class FaissPdqIndex:
    """The same interface as :class:`~index.matching_pdq.PdqIndex`, backed by FAISS."""

    def __init__(self, words: np.ndarray, max_distance: int):
        """``words``: (N, 4) uint64, big-endian word order of the 64 hex digits."""
        self.n = int(words.shape[0])
        self.max_distance = max_distance
        self._index = faiss.IndexBinaryMultiHash(BITS, SEGMENTS, SEGMENT_BITS)
        self._index.nflip = max_distance // SEGMENTS
        codes = words_to_codes(words)
        # Added in slices so that the uint8 copy of a 10M list is never held twice.
        for start in range(0, self.n, 1_000_000):
            self._index.add(codes[start:start + 1_000_000])

    def hex_of(self, i: int) -> str:
        """The 64 hex digits of hash ``i``."""
        return bytes(self._index.storage.reconstruct(int(i))).hex()

    def near(self, query: np.ndarray) -> Found:
        """Indices and distances of the hashes within ``max_distance`` of one (4,) query."""
        return self.near_many(query.reshape(1, 4))[0]

    def near_many(self, queries: np.ndarray) -> list[Found]:
        """:meth:`near` for each row of a (Q, 4) uint64 array, in one FAISS call."""
        if self.n == 0 or len(queries) == 0:
            return [_empty() for _ in range(len(queries))]
        # FAISS keeps distances strictly below the radius.
        lims, distances, labels = self._index.range_search(
            words_to_codes(queries), self.max_distance + 1
        )
        labels = labels.astype(np.int64)
        distances = distances.astype(np.int64)
        return [
            (labels[lims[q]:lims[q + 1]], distances[lims[q]:lims[q + 1]])
            for q in range(len(queries))
        ]


def _empty() -> Found:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def pdq_index(words: np.ndarray, max_distance: int) -> PdqIndex | FaissPdqIndex:
    """The index for a list of flagged PDQ hashes: full scan when small, FAISS when large."""
    if words.shape[0] < FAISS_MIN:
        return PdqIndex(words, max_distance)
    return FaissPdqIndex(words, max_distance)
