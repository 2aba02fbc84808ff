"""Near-neighbour search over flagged PDQ hashes by Hamming distance: the full scan.

Every hash is compared with the query: four XORs and a popcount over uint64 columns
(numpy). This is the reference the multi-index one (:mod:`index.matching_mih`) is tested
against, and what small lists use. Reads no settings.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def pdq_words(hexes: Iterable[str]) -> np.ndarray:
    """The (N, 4) uint64 rows of PDQ hashes of 64 hex digits each, in :class:`PdqIndex`'s
    word order (the inverse of :meth:`PdqIndex.hex_of`). Raises ValueError for values that
    are not whole hashes."""
    raw = bytes.fromhex("".join(hexes))
    if len(raw) % 32:
        raise ValueError(f"PDQ hashes are 64 hex digits each; got {len(raw) * 2} digits in all")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def pdq_word(hex_value: str) -> np.ndarray | None:
    """The (4,) uint64 words of one PDQ hash, or None if it is not 64 hex digits."""
    if len(hex_value) != 64:
        return None
    try:
        return pdq_words((hex_value,))[0]
    except ValueError:
        return None


class PdqIndex:
    def __init__(self, words: np.ndarray, max_distance: int):
        """``words``: (N, 4) uint64, big-endian word order of the 64 hex digits."""
        self.words = np.ascontiguousarray(words.T)  # (4, N): each word contiguous for XORs
        self.n = words.shape[0]
        self.max_distance = max_distance

    def hex_of(self, i: int) -> str:
        """The 64 hex digits of hash ``i``."""
        return self.words[:, i].astype(">u8").tobytes().hex()

    def near(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices and distances of the hashes within ``max_distance`` of one (4,) uint64 query."""
        distance = np.bitwise_count(self.words[0] ^ query[0]).astype(np.int64)
        for w in range(1, 4):
            distance += np.bitwise_count(self.words[w] ^ query[w])
        keep = np.flatnonzero(distance <= self.max_distance)
        return keep.astype(np.int64), distance[keep]

    def near_many(self, queries: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`near` for each row of a (Q, 4) uint64 array."""
        return [self.near(q) for q in queries]
