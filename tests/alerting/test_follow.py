"""Alert rules naming an onion follow it to its confirmed relaunch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alerting.db import AlertDB
from alerting.engine import AlertEngine
from alerting.follow import chains, followed_texts
from alerting.rules import evaluate
from alerting.state import AlertState
from config.sections.alerts import AlertRule, AlertSettings
from documents import Page

A = "a" * 56 + ".onion"
B = "b" * 56 + ".onion"
C = "c" * 56 + ".onion"
D = "d" * 56 + ".onion"
T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def page(host: str, text: str = "lamp for sale") -> Page:
    return Page(url=f"http://{host}/shop", fetched_at=T, title="shop", text=text)


def test_chains_follow_each_move_in_decision_order() -> None:
    assert chains([(A, B), (B, C)]) == {A: (B, C), B: (C,)}
    # A later decision for the same onion wins; a move back ends the chain.
    assert chains([(A, B), (A, C)]) == {A: (C,)}
    assert chains([(A, B), (B, A)]) == {A: (B,), B: (A,)}
    assert chains([]) == {}


def test_the_query_is_rewritten_once_per_step_for_every_onion_it_names() -> None:
    follows = chains([(A, B), (B, C), (D, A)])
    assert followed_texts(f"host:{A} AND lamp", follows) == [
        (f"host:{B} AND lamp", ((A, B),)), (f"host:{C} AND lamp", ((A, C),))]
    # D moved to A, which moved on: each step moves every name once, all at the same time.
    both = followed_texts(f'url:"http://{A.upper()}/shop" OR host:{D}', follows)
    assert [text for text, _ in both] == [f'url:"http://{B}/shop" OR host:{A}',
                                          f'url:"http://{C}/shop" OR host:{B}',
                                          f'url:"http://{C}/shop" OR host:{C}']
    assert followed_texts("host:other.onion", follows) == []
    # Only a whole name: a longer label ending in the same characters is another onion.
    assert followed_texts(f"host:x{A}", follows) == []
    assert followed_texts(f"host:www.{A}", follows)[0][0] == f"host:www.{B}"


def test_a_keyword_rule_matches_the_successor_and_says_why() -> None:
    rule = AlertRule(name="watched", type="keyword", query=f"host:{A} AND lamp")
    follows = chains([(A, B)])
    assert evaluate(rule, page(B)) is None
    firing = evaluate(rule, page(B), follows)
    assert firing is not None and firing.key == B
    assert dict(firing.facts)["Followed"] == f"{A} -> {B} (relaunch confirmed)"
    # The rest of the query still decides; the old onion still matches, without the fact.
    assert evaluate(rule, page(B, "kettle only"), follows) is None
    own = evaluate(rule, page(A), follows)
    assert own is not None and "Followed" not in dict(own.facts)
    assert evaluate(rule, page(C), follows) is None


async def test_the_engine_follows_what_was_confirmed_in_another_process(tmp_path: Path
                                                                         ) -> None:
    rule = AlertRule(name="watched", type="keyword", query=f"host:{A}", kinds=["page"])
    path = tmp_path / "alerts.sqlite"
    engine = AlertEngine(AlertSettings(rules=[rule]), path, lambda docs: 0)
    try:
        await engine.after_commit([page(B)])
        assert engine.counters["fired"] == 0
        elsewhere = AlertDB(path)  # `heroes relaunch confirm`, another connection
        elsewhere.add_follow(A, B, "analyst", 1)
        elsewhere.close()
        await engine.after_commit([page(B)])
        assert engine.counters["fired"] == 1
    finally:
        engine.close()
    state = AlertState(AlertDB(path))
    try:
        (alert,) = state.list()
        assert alert.key == B and dict(alert.facts)["Followed"].startswith(f"{A} -> {B}")
    finally:
        state.db.close()
