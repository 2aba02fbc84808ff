"""Ranking of the synthetic peers on the embedded backend, as the documented weights say."""

from __future__ import annotations

import math

import pytest

from tests.triage import peer_data as pd
from triage.ranking import Scope
from triage.service import Triage


def documented_score(swarms: int, severity: int, level: int, span_days: float,
                     age_days: float, completeness: float) -> float:
    """config/sections/triage.py's formula with its default weights, written out again."""
    return (3.0 * math.log2(1 + swarms) + 2.0 * severity + 1.5 * level
            + 1.0 * math.log2(1 + span_days) + 1.0 * 0.5 ** (age_days / 7.0)
            + 2.0 * completeness)


EXPECTED = {  # ip -> (swarms, severity, level, first..last span, days since last, fraction)
    pd.TOP: (3, 3, 3, 8, 2, 1.0),
    pd.MID: (2, 2, 2, 4, 1, 0.3),
    pd.V6_A: (1, 3, 1, 1, 5, 0.0),
    pd.OLD: (1, 3, 1, 1, 9, 0.0),
    pd.V6_B: (1, 2, 1, 1, 5, 0.0),
    pd.V6_OTHER: (1, 1, 1, 1, 5, 0.0),
    pd.MOVED_TO: (1, 1, 1, 0.5, 7.2, 0.0),
    pd.MOVED_FROM: (1, 1, 1, 0.2, 7.8, 0.0),
    pd.L0_ONLY: (4, 3, 0, 5, 2, 0.0),
}


async def test_ranking_follows_the_documented_weights(triage: Triage) -> None:
    peers = await triage.ranking(Scope(), pd.NOW)
    assert [p.ip for p in peers] == list(EXPECTED)
    for p in peers:
        assert p.score.total == pytest.approx(documented_score(*EXPECTED[p.ip]), abs=1e-3)
        assert sum(t.points for t in p.score.terms) == pytest.approx(p.score.total, abs=1e-4)
    assert pd.UNFLAGGED_ONLY not in {p.ip for p in peers}


async def test_l0_only_peer_with_more_swarms_ranks_below_handshakes(triage: Triage) -> None:
    peers = await triage.ranking(Scope(), pd.NOW)
    l0 = next(p for p in peers if p.ip == pd.L0_ONLY)
    mid = next(p for p in peers if p.ip == pd.MID)
    assert l0.figures.swarms > mid.figures.swarms and l0.score.total > mid.score.total
    assert l0.rank == len(peers) and not l0.score.handshake
    assert "ranks below every peer with a handshake" in l0.score.explain()[-1]


async def test_min_level_and_since_narrow_the_ranking(triage: Triage) -> None:
    level2 = await triage.ranking(Scope(min_level=2), pd.NOW)
    assert [p.ip for p in level2] == [pd.TOP, pd.MID]
    recent = await triage.ranking(Scope(since=pd.T0.replace(day=8)), pd.NOW)
    assert {p.ip for p in recent} == {pd.TOP, pd.MID, pd.L0_ONLY}


async def test_moved_peer_id_is_a_hint_not_a_merge(triage: Triage) -> None:
    peers = {p.ip: p for p in await triage.ranking(Scope(), pd.NOW)}
    assert pd.MOVED_FROM in peers and pd.MOVED_TO in peers
    (hint,) = peers[pd.MOVED_FROM].hints
    assert (hint.other_ip, hint.via, hint.value) == (pd.MOVED_TO, "peer id", pd.MOVING_PEER_ID)
    assert hint.gap_s == round(0.1 * 86_400)
    assert peers[pd.MOVED_TO].hints[0].other_ip == pd.MOVED_FROM
    assert "not merged" in hint.text()
    assert not peers[pd.TOP].hints


async def test_ipv6_grouped_by_64(triage: Triage) -> None:
    peers = await triage.ranking(Scope(), pd.NOW, prefix64=True)
    rows = {p.ip: p for p in peers}
    group = rows[pd.NET64]
    assert group.members == sorted([pd.V6_A, pd.V6_B])
    assert group.figures.swarms == 2 and group.figures.severity == 3
    assert group.score.total == pytest.approx(documented_score(2, 3, 1, 1, 5, 0.0), abs=1e-3)
    assert pd.V6_A not in rows and pd.V6_OTHER in rows  # the other /64 stays its own row
    assert [p.ip for p in peers][:3] == [pd.TOP, pd.MID, pd.NET64]
    single = await triage.ranking(Scope(), pd.NOW)
    assert next(p for p in single if p.ip == pd.V6_A).prefix64 == pd.NET64
