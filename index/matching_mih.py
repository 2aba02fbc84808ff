"""Near-neighbour search over a large set of flagged PDQ hashes: multi-index hashing, exact.

The 256 bits are cut into 16 segments of 16 bits. Two hashes within distance d agree, by
pigeonhole, to within d // 16 bits on at least one segment, so probing, in each segment,
every value within that many flipped bits of the query's finds every hash within d (the
multi-index hashing Hasher-Matcher-Actioner uses through FAISS). Each candidate's full
distance is then computed, and it is kept when it is at most d. Results are therefore those
of the full scan in :mod:`index.matching_pdq` (a property test checks it), only found
without touching every hash.

Where the time goes is memory, not arithmetic: at 1M hashes and d = 31 a query has 272
probes and ~4,100 candidates, one cache miss each if they are read in the order they come.
So each segment keeps its own copy of the hashes' first two words sorted by the segment's
value (a probe reads one contiguous run), and a batch's probes are sorted by value before
the segment is walked (the runs are read front to back). Two words reject all but one in
~10^8 of the candidates farther than d, so the other two are read only for real hits.
The walk is compiled with numba: the same loop in numpy, with its temporary arrays, was
slower than FAISS itself. It holds no lock, so a long batch is walked by one thread per
core, each its own segments. Measured here at 1M hashes, a batch of 2,000 queries: 33 µs a
query on one thread, 17 µs on two; FAISS's ``IndexBinaryMultiHash`` 680 µs on two
(``python -m bench.match``).

The sorted copies cost 256 bytes a hash; above :data:`COPIES_MAX` hashes they are not made
(a 10M list would need 2.5 GB for them) and the walk reads the words through the sort
order instead, slower but within ~1 GB at 10M. :func:`pdq_index` picks the full scan below
:data:`MIH_MIN` hashes (as fast, no extra memory) and for a reach of
:data:`MIH_MAX_DISTANCE` bits or more (probing would cost more than scanning). Reads no
settings (the distance comes from ``matching.pdq_max_distance`` through the caller).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations, pairwise

import numba
import numpy as np

from index.matching_pdq import PdqIndex

SEGMENTS = 16
SEGMENT_VALUES = 1 << 16
# Below this a list is scanned: the simplest exact answer, and as fast at this size.
MIH_MIN = 1_000
# From this distance on (four flipped bits a segment: 2,517 probes, each segment's runs
# holding ~60 % of the list) probing costs more than the full scan, and a batch's probes
# alone would take hundreds of MB: such a reach is scanned.
MIH_MAX_DISTANCE = 4 * SEGMENTS
# Sorted copies of the first two words for lists up to this size (256 bytes a hash):
# 1 GB at 4M, which with the words and the sort orders keeps the matcher under 1.5 GB.
COPIES_MAX = 4_000_000

# A batch of at least this many queries is walked by several threads, each its own
# segments (one thread per core, up to 4): below it, handing the work over costs more.
PARALLEL_MIN = 64
_POOL_SIZE = next(k for k in (4, 2, 1) if k <= (os.cpu_count() or 1))  # divides 16

Found = tuple[np.ndarray, np.ndarray]  # indices, distances (int64)


class MihPdqIndex:
    """The same interface as :class:`~index.matching_pdq.PdqIndex`, by multi-index hashing."""

    def __init__(self, words: np.ndarray, max_distance: int, copies: bool | None = None):
        """``words``: (N, 4) uint64, big-endian word order of the 64 hex digits; ``copies``:
        whether to keep the sorted copies (by default, up to :data:`COPIES_MAX` hashes)."""
        self.n = int(words.shape[0])
        self.max_distance = max_distance
        self.words = np.ascontiguousarray(words, dtype=np.uint64)
        self._flips = _flip_masks(max_distance // SEGMENTS)
        self._order = np.empty((SEGMENTS, self.n), dtype=np.int32)
        self._starts = np.zeros((SEGMENTS, SEGMENT_VALUES + 1), dtype=np.int64)
        keep_copies = self.n <= COPIES_MAX if copies is None else copies
        self._heads = np.empty((SEGMENTS, self.n if keep_copies else 0, 2), dtype=np.uint64)
        for s in range(SEGMENTS):
            values = segment_values(self.words, s)
            self._order[s] = np.argsort(values, kind="stable")
            np.cumsum(np.bincount(values, minlength=SEGMENT_VALUES), out=self._starts[s, 1:])
            if keep_copies:
                self._heads[s] = self.words[self._order[s], :2]

    def hex_of(self, i: int) -> str:
        """The 64 hex digits of hash ``i``."""
        return self.words[int(i)].astype(">u8").tobytes().hex()

    def near(self, query: np.ndarray) -> Found:
        """Indices and distances of the hashes within ``max_distance`` of one (4,) query."""
        return self.near_many(query.reshape(1, 4))[0]

    def near_many(self, queries: np.ndarray) -> list[Found]:
        """:meth:`near` for each row of a (Q, 4) uint64 array, in one walk."""
        count = len(queries)
        if self.n == 0 or count == 0:
            return [_empty() for _ in range(count)]
        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        parts = _POOL_SIZE if count >= PARALLEL_MIN else 1
        step = SEGMENTS // parts
        spans = [(first, first + step) for first in range(0, SEGMENTS, step)]
        if parts == 1:
            hits = self._walk(queries, *spans[0])
        else:
            # The walk holds no lock (numba's nogil): each thread walks its own segments.
            hits = np.concatenate(list(_pool().map(lambda span: self._walk(queries, *span),
                                                   spans)), axis=1)
        # A hash near the query on several segments is found once per segment.
        key, first = np.unique(hits[0] * self.n + hits[1], return_index=True)
        which, index = np.divmod(key, self.n)
        distance = hits[2][first]
        bounds = np.searchsorted(which, np.arange(count + 1))
        return [(index[a:b], distance[a:b]) for a, b in pairwise(bounds)]

    def _walk(self, queries: np.ndarray, first: int, last: int) -> np.ndarray:
        """The (query, hash, distance) columns of the hits on segments ``first`` to ``last``."""
        capacity = max(1024, 4 * len(queries))
        while True:
            hits = np.empty((3, capacity), dtype=np.int64)
            found = _walk_segments(self._heads, self.words, self._order, self._starts,
                                   self._flips, queries, self.max_distance, first, last, hits)
            if found >= 0:
                return hits[:, :found]
            capacity *= 4


def segment_values(words: np.ndarray, s: int) -> np.ndarray:
    """Segment ``s`` of each (4,) row: bits 16(s mod 4) up of word s // 4. As uint16, so that
    a stable argsort is numpy's radix sort (linear: a 10M list is sorted 16 times)."""
    return ((words[:, s // 4] >> np.uint64(16 * (s % 4))) & np.uint64(0xFFFF)).astype(np.uint16)


def _flip_masks(flips: int) -> np.ndarray:
    """Every 16-bit mask with at most ``flips`` bits set, 0 first."""
    masks = [0]
    for k in range(1, min(flips, 16) + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(16), k)]
    return np.array(masks, dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def _popcount(x: np.uint64) -> np.uint64:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@numba.njit(cache=True, nogil=True)
def _walk_segments(
    heads: np.ndarray,
    words: np.ndarray,
    order: np.ndarray,
    starts: np.ndarray,
    flips: np.ndarray,
    queries: np.ndarray,
    max_distance: int,
    first: int,
    last: int,
    hits: np.ndarray,
) -> int:
    """Write (query, hash, distance) of each hit on segments ``first`` to ``last`` (excluded)
    into ``hits`` columns; return their count, or -1 when ``hits`` is too small. A hit
    appears once per segment that finds it."""
    copies = heads.shape[1] > 0
    count = queries.shape[0]
    probes = np.empty(count * flips.shape[0], np.int64)
    found = 0
    for s in range(first, last):
        shift = np.uint64(16 * (s % 4))
        for q in range(count):
            value = np.int64((queries[q, s // 4] >> shift) & np.uint64(0xFFFF))
            for f in range(flips.shape[0]):
                probes[q * flips.shape[0] + f] = ((value ^ flips[f]) << 32) | q
        probes.sort()  # by segment value, so the runs are read front to back
        for probe in probes:
            value = probe >> 32
            q = probe & 0xFFFFFFFF
            q0, q1 = queries[q, 0], queries[q, 1]
            for p in range(starts[s, value], starts[s, value + 1]):
                if copies:
                    head = _popcount(heads[s, p, 0] ^ q0) + _popcount(heads[s, p, 1] ^ q1)
                else:
                    i = order[s, p]
                    head = _popcount(words[i, 0] ^ q0) + _popcount(words[i, 1] ^ q1)
                if head > max_distance:
                    continue
                i = order[s, p]
                distance = (head + _popcount(words[i, 2] ^ queries[q, 2])
                            + _popcount(words[i, 3] ^ queries[q, 3]))
                if distance <= max_distance:
                    if found == hits.shape[1]:
                        return -1
                    hits[0, found] = q
                    hits[1, found] = i
                    hits[2, found] = distance
                    found += 1
    return found


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="pdq-walk")


# A forked child has none of its parent's threads: it starts a pool of its own.
os.register_at_fork(after_in_child=_pool.cache_clear)


def _empty() -> Found:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def pdq_index(words: np.ndarray, max_distance: int) -> PdqIndex | MihPdqIndex:
    """The index for a list of flagged PDQ hashes: multi-index hashing for a large list, the
    full scan for a small one or a reach of :data:`MIH_MAX_DISTANCE` bits or more."""
    if words.shape[0] < MIH_MIN or max_distance >= MIH_MAX_DISTANCE:
        return PdqIndex(words, max_distance)
    return MihPdqIndex(words, max_distance)
