"""DHT lookup pacing: every target within revisit_s when the rate allows, fair turns when not."""

from __future__ import annotations

from collections import Counter

from monitors.pacing import LookupPacer


def run(pacer: LookupPacer, seconds: float, step: float = 0.1) -> Counter[str]:
    seen: Counter[str] = Counter()
    t = 0.0
    while t <= seconds:
        seen.update(pacer.take(t))
        t = round(t + step, 6)
    return seen


def test_every_target_revisited_within_revisit_s_when_the_rate_allows() -> None:
    pacer = LookupPacer(revisit_s=900.0, rate_per_s=120.0)
    for i in range(100_000):
        pacer.add(f"{i:040x}", 1, 0.0)
    assert pacer.keeping_up() and pacer.revisit_in_effect_s == 900.0
    seen = run(pacer, 1800.0, step=1.0)
    # Two full rounds within two revisit periods: every target looked up twice, none more.
    assert set(seen.values()) == {2}
    assert len(seen) == 100_000
    assert pacer.sent <= 120 * 1801 + 120


def test_rate_is_never_exceeded_and_new_targets_go_first_in_order() -> None:
    pacer = LookupPacer(revisit_s=10.0, rate_per_s=20.0)
    for i in range(50):
        pacer.add(f"t{i}", 1, 0.0)
    first = pacer.take(0.0) + pacer.take(0.5)
    assert first == [f"t{i}" for i in range(len(first))]
    sent_in_window: list[int] = []
    t = 1.0
    while t < 20.0:
        sent_in_window.append(len(pacer.take(t)))
        t += 0.05
    # 20 per second at most, bursts included.
    assert max(sum(sent_in_window[i:i + 20]) for i in range(len(sent_in_window) - 20)) <= 40


def test_cannot_keep_up_is_said_and_turns_stay_fair() -> None:
    pacer = LookupPacer(revisit_s=10.0, rate_per_s=10.0)
    for i in range(200):
        pacer.add(f"t{i}", 2 if i % 2 else 1, 0.0)  # hybrids cost two lookups
    assert not pacer.keeping_up()
    assert pacer.needed_rate_per_s == 30.0 and pacer.revisit_in_effect_s == 30.0
    seen = run(pacer, 60.0)
    assert len(seen) == 200
    # Two rounds of 30 s: every target twice, but the round under way at either end.
    assert sum(1 for v in seen.values() if v != 2) <= 2
    assert pacer.lag_s(60.0) > 0


def test_removed_targets_are_not_looked_up() -> None:
    pacer = LookupPacer(revisit_s=1.0, rate_per_s=100.0)
    pacer.add("a", 1, 0.0)
    pacer.add("b", 1, 0.0)
    pacer.remove("a")
    assert len(pacer) == 1 and pacer.total_cost == 1
    assert set(run(pacer, 3.0)) == {"b"}


def test_peer_table_stays_within_its_limit_dropping_the_oldest() -> None:
    from dataclasses import dataclass

    from monitors.peer_table import evict_oldest

    @dataclass
    class Rec:
        last_seen: float

    peers = {("k", f"127.0.0.{i % 250}", 1000 + i): Rec(float(i)) for i in range(1500)}
    assert evict_oldest(peers, 2000) == 0
    assert evict_oldest(peers, 1000) == 600
    assert len(peers) == 900
    assert min(r.last_seen for r in peers.values()) == 600.0
