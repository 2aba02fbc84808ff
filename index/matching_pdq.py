"""Near-neighbour search over flagged PDQ hashes by Hamming distance (exact, not approximate).

Small sets are scanned whole: four XORs and a popcount over uint64 columns (numpy).
Large sets use multi-index hashing: the 256 bits are cut into 16 segments of 16 bits;
two hashes within distance d <= 31 agree, by pigeonhole, to within floor(d / 16) <= 1 bit
on at least one segment, so the candidates are the hashes whose value on some segment is
the query's or one bit away from it (17 sorted-array lookups per segment). Every
candidate's full distance is then computed, so results equal a full scan's.
"""

from __future__ import annotations

import numpy as np

SEGMENTS = 16
SEGMENT_BITS = 16
# Below this many hashes a full scan is as fast as the lookups and needs no extra memory.
MIH_MIN = 65_536


class PdqIndex:
    def __init__(self, words: np.ndarray, max_distance: int):
        """``words``: (N, 4) uint64, big-endian word order of the 64 hex digits."""
        self.words = np.ascontiguousarray(words.T)  # (4, N): each word contiguous for XORs
        self.n = words.shape[0]
        self.max_distance = max_distance
        radius = max_distance // SEGMENTS
        self.mih = self.n >= MIH_MIN and radius <= 1
        self._flips = np.array([0] + [1 << b for b in range(SEGMENT_BITS)] if radius else [0],
                               dtype=np.uint16)
        self._sorted: list[np.ndarray] = []
        self._order: list[np.ndarray] = []
        if self.mih:
            for s in range(SEGMENTS):
                seg = _segment(self.words, s)
                order = np.argsort(seg, kind="stable").astype(np.uint32)
                self._order.append(order)
                self._sorted.append(seg[order])

    def hex_of(self, i: int) -> str:
        """The 64 hex digits of hash ``i``."""
        return self.words[:, i].astype(">u8").tobytes().hex()

    def near(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices and distances of the hashes within ``max_distance`` of one (4,) uint64 query."""
        if self.n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if not self.mih:
            return self._scan(np.arange(self.n), query)
        q = query.reshape(4, 1)
        parts = []
        for s in range(SEGMENTS):
            value = _segment(q, s)[0]
            probes = value ^ self._flips
            lo = np.searchsorted(self._sorted[s], probes, side="left")
            hi = np.searchsorted(self._sorted[s], probes, side="right")
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                if b > a:
                    parts.append(self._order[s][a:b])
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return self._scan(np.unique(np.concatenate(parts)).astype(np.int64), query)

    def _scan(self, candidates: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        words = self.words[:, candidates] if len(candidates) != self.n else self.words
        distance = np.bitwise_count(words[0] ^ query[0]).astype(np.int64)
        for w in range(1, 4):
            distance += np.bitwise_count(words[w] ^ query[w])
        keep = distance <= self.max_distance
        return candidates[keep], distance[keep]


def _segment(words: np.ndarray, s: int) -> np.ndarray:
    """Segment ``s`` (16 bits) of every hash in a (4, N) word array, as uint16."""
    word, part = divmod(s, 4)
    return ((words[word] >> np.uint64(48 - 16 * part)) & np.uint64(0xFFFF)).astype(np.uint16)
