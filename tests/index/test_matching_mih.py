"""The multi-index PDQ index finds exactly what the full scan finds (property test), in batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.matching_mih import MIH_MAX_DISTANCE, MIH_MIN, PARALLEL_MIN, MihPdqIndex, pdq_index
from index.matching_pdq import PdqIndex


def flip(word_row: np.ndarray, bits: list[int]) -> np.ndarray:
    """A (4,) uint64 hash with the given bit positions flipped."""
    unpacked = np.unpackbits(word_row.astype(">u8").view(np.uint8))
    unpacked[bits] ^= 1
    return np.packbits(unpacked).view(">u8").astype(np.uint64)


def as_pairs(found: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, int]]:
    return sorted(zip(found[0].tolist(), found[1].tolist(), strict=True))


@st.composite
def lists_and_queries(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 400))
    words = rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)
    # Near-duplicates inside the list, so that one query can have several answers.
    for i in range(draw(st.integers(0, min(n - 1, 40)))):
        src = int(rng.integers(0, n))
        words[i] = flip(words[src], rng.choice(256, int(rng.integers(0, 48)), replace=False))
    max_distance = draw(st.sampled_from([0, 1, 15, 16, 31, 32, 47, 63]))
    queries = []
    for _ in range(draw(st.integers(1, 30))):
        base = words[int(rng.integers(0, n))]
        flips = int(rng.integers(0, max_distance + 10))
        queries.append(flip(base, rng.choice(256, flips, replace=False)))
    queries.append(rng.integers(0, 2**64 - 1, size=4, dtype=np.uint64, endpoint=True))
    return words, np.stack(queries), max_distance


@settings(max_examples=60, deadline=None)
@given(lists_and_queries())
def test_multi_index_results_equal_the_full_scan(case: tuple[np.ndarray, np.ndarray, int]) -> None:
    words, queries, max_distance = case
    scan = PdqIndex(words, max_distance)
    for copies in (True, False):  # the sorted copies of small lists, the sort order of large
        fast = MihPdqIndex(words, max_distance, copies=copies)
        batch = fast.near_many(queries)
        assert len(batch) == len(queries)
        for query, got in zip(queries, batch, strict=True):
            want = as_pairs(scan.near(query))
            assert as_pairs(got) == want
            assert as_pairs(fast.near(query)) == want
            assert all(d <= max_distance for _, d in want)
        # A batch this long is walked by several threads, each its own segments.
        tiled = np.tile(queries, (PARALLEL_MIN // len(queries) + 1, 1))
        for query, got in zip(tiled, fast.near_many(tiled), strict=True):
            assert as_pairs(got) == as_pairs(scan.near(query))


def test_a_batch_with_more_hits_than_its_first_buffer_finds_them_all() -> None:
    rng = np.random.default_rng(6)
    base = rng.integers(0, 2**64 - 1, size=4, dtype=np.uint64, endpoint=True)
    # 3,000 hashes within 3 bits of one another: each query's hits far outnumber the first
    # buffer (1,024 rows), and each is found on up to 16 segments.
    words = np.stack([flip(base, rng.choice(256, 3, replace=False)) for _ in range(3000)])
    fast, scan = MihPdqIndex(words, 31), PdqIndex(words, 31)
    for query, got in zip(words[:2], fast.near_many(words[:2]), strict=True):
        assert as_pairs(got) == as_pairs(scan.near(query))
        assert len(got[0]) == 3000


def test_hex_of_gives_back_the_stored_hash() -> None:
    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**64 - 1, size=(50, 4), dtype=np.uint64, endpoint=True)
    fast, scan = MihPdqIndex(words, 31), PdqIndex(words, 31)
    for i in (0, 17, 49):
        assert fast.hex_of(i) == scan.hex_of(i) == words[i].astype(">u8").tobytes().hex()


def test_small_lists_are_scanned_large_ones_use_multi_index_hashing() -> None:
    rng = np.random.default_rng(4)
    words = rng.integers(0, 2**64 - 1, size=(MIH_MIN, 4), dtype=np.uint64, endpoint=True)
    assert isinstance(pdq_index(words[:-1], 31), PdqIndex)
    large = pdq_index(words, 31)
    assert isinstance(large, MihPdqIndex)
    query = flip(words[123], list(range(0, 62, 2)))  # distance 31: found
    far = flip(words[123], list(range(0, 64, 2)))  # distance 32: not found
    assert 123 in large.near(query)[0].tolist()
    assert 123 not in large.near(far)[0].tolist()
    empty = pdq_index(np.zeros((0, 4), dtype=np.uint64), 31)
    assert empty.n == 0 and as_pairs(empty.near(query)) == []
    # A reach this far would probe most of the list 16 times over: it is scanned.
    assert isinstance(pdq_index(words, MIH_MAX_DISTANCE - 1), MihPdqIndex)
    wide = pdq_index(words, MIH_MAX_DISTANCE)
    assert isinstance(wide, PdqIndex)
    assert 123 in wide.near(flip(words[123], list(range(0, 128, 2))))[0].tolist()


@pytest.mark.parametrize("batch", [1, PARALLEL_MIN])  # one thread, then several
def test_a_hash_near_on_one_segment_only_is_found_whichever_segment(batch: int) -> None:
    rng = np.random.default_rng(8)
    words = rng.integers(0, 2**64 - 1, size=(MIH_MIN, 4), dtype=np.uint64, endpoint=True)
    fast = MihPdqIndex(words, 31)
    for s in range(16):
        # Two bits flipped in every 16-bit segment but s: distance 30, and only segment s
        # is within the one flipped bit its probes reach.
        bits = [16 * t + b for t in range(16) if t != s for b in (3, 11)]
        # Segment s of word w holds bits 16(s mod 4).. of word s // 4, numbered from its
        # low end; flip() numbers bits from the high end of the 64 hex digits.
        bits = [64 * (p // 64) + 63 - p % 64 for p in bits]
        query = flip(words[5], bits)
        assert int(np.bitwise_count(query ^ words[5]).sum()) == 30
        found = fast.near_many(np.tile(query, (batch, 1)))
        assert all(5 in got[0].tolist() for got in found), s
