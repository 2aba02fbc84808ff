"""Pure grading of sightings: sources, fractions, levels, bitfields, piece choice."""

from __future__ import annotations

from monitors.peers import (
    FLAG_CONNECTING,
    FLAG_HANDSHAKE,
    FLAG_SEED,
    decode_client,
    have_fraction,
    level_of,
    sources_of,
)
from monitors.recorder import bits_hex
from monitors.verify import choose_pieces


def test_sources() -> None:
    assert sources_of(1 | 2 | 4, outgoing=True) == ["tracker", "dht", "pex"]
    assert sources_of(0, outgoing=False) == ["incoming"]
    assert sources_of(0, outgoing=True) == []


def test_have_fraction_counts_only_real_pieces() -> None:
    padded = [True] * 3 + [False] * 2 + [True] * 3  # 5 pieces + 3 padding bits set
    assert have_fraction(padded, 5, seed=False) == 0.6
    assert have_fraction([], 94, seed=True) == 1.0
    assert have_fraction([True], None, seed=False) is None


def test_levels() -> None:
    assert level_of(FLAG_CONNECTING, []) == 0
    assert level_of(FLAG_HANDSHAKE, [True]) == 0
    assert level_of(0, [False, False]) == 1
    assert level_of(0, [False, True]) == 2
    assert level_of(FLAG_SEED, []) == 2


def test_client_decode() -> None:
    assert decode_client(b"-qB4630-2y5gyzh)RnML") == "qBittorrent 4.6.3"
    assert decode_client(b"short") == ""


def test_bits_hex_is_wire_order() -> None:
    assert bits_hex((True, False, False, False, False, False, False, True, True)) == "8180"


def test_choose_pieces_spreads_over_owned() -> None:
    have = [i % 2 == 0 for i in range(20)]
    chosen = choose_pieces(have, False, 20, 3)
    assert len(chosen) == 3 and all(have[i] for i in chosen) and chosen[0] == 0
    assert choose_pieces([], True, 4, 10) == [0, 1, 2, 3]
    assert choose_pieces([False] * 8, False, 8, 2) == []
