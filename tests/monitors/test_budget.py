"""The per-torrent connection cap: a fair share of the global limit, never below the floor."""

from __future__ import annotations

import pytest

from monitors.budget import MIN_PER_TORRENT, per_torrent_cap


def test_fair_share_of_the_global_limit() -> None:
    assert per_torrent_cap(4000, 1) == 4000
    assert per_torrent_cap(4000, 10) == 400
    assert per_torrent_cap(4000, 3) == 1333
    # The shares never add up to more than the limit while above the floor.
    for targets in (1, 7, 100, 1999):
        assert per_torrent_cap(4000, targets) * targets <= 4000


def test_floor_keeps_a_handshake_for_every_target_at_100k() -> None:
    assert per_torrent_cap(4000, 100_000) == MIN_PER_TORRENT >= 1
    assert per_torrent_cap(4000, 100_000, floor=5) == 5
    # Never 0: libtorrent reads a torrent limit of 0 as unlimited.
    assert per_torrent_cap(1, 100_000, floor=0) == 1


def test_no_targets_gives_the_whole_limit_and_a_bad_limit_is_named() -> None:
    assert per_torrent_cap(4000, 0) == 4000
    with pytest.raises(ValueError, match="got 0"):
        per_torrent_cap(0, 5)
