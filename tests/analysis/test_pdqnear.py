"""Near-identical images across pages: a hash within the distance is found, one beyond it
is not, across frozen chunks and the rows added since; kept hashes come back on restore."""

from __future__ import annotations

import random

import pytest

from analysis import pdqnear
from analysis.pdqnear import PdqNear


def _hash(seed: int) -> str:
    return random.Random(seed).getrandbits(256).to_bytes(32, "big").hex()


def _flip(hex_value: str, bits: int) -> str:
    value = int(hex_value, 16)
    for bit in range(bits):
        value ^= 1 << (bit * 7)
    return value.to_bytes(32, "big").hex()


def test_a_near_image_is_found_and_a_far_one_is_not() -> None:
    near = PdqNear(31)
    base = _hash(1)
    assert near.add("a", base) == []
    assert near.add("b", _flip(base, 20)) == [("a", 20)]
    assert near.add("c", _flip(base, 32)) == [("b", 12)]  # 32 from a: beyond the distance
    assert near.add("d", _hash(9)) == []
    assert len(near) == 4


def test_hashes_in_frozen_chunks_and_since_are_both_searched(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdqnear, "CHUNK", 4)
    near = PdqNear(10)
    base = _hash(2)
    near.add("first", base)
    for k in range(9):
        near.add(f"other{k}", _hash(100 + k))
    near.add("last", _hash(3))
    assert near.add("again", _flip(base, 3)) == [("first", 3)]
    assert near.add("once-more", _hash(3)) == [("last", 0)]


def test_restored_hashes_are_found_and_bad_ones_skipped() -> None:
    near = PdqNear(31)
    near.restore("kept", _hash(4))
    near.restore("bad", "not a hash")
    assert len(near) == 1
    assert near.add("new", _flip(_hash(4), 5)) == [("kept", 5)]
    assert near.add("bad-too", "zz" * 32) == []
