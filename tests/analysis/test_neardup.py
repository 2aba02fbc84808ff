"""Near-duplicate texts with MinHash LSH: templated adverts found, unrelated text not, and
signatures kept as bytes come back after a restart."""

from __future__ import annotations

import random

from analysis.neardup import NearDuplicates

WORDS = ("order shipping stock price quality review escrow support delivery tracking package "
         "customer account wallet refund policy item product offer discount").split()


def _text(seed: int, n: int = 200) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _index() -> NearDuplicates:
    return NearDuplicates(threshold=0.8, num_perm=128, shingle_words=5)


def test_a_templated_text_is_near_and_an_unrelated_one_is_not() -> None:
    near = _index()
    base = _text(1)
    edited = base.replace("escrow", "trusted", 1)
    assert near.add("a", near.signature(base)) == []
    (found,) = near.add("b", near.signature(edited))
    assert found[0] == "a" and found[1] >= 0.8
    assert near.add("c", near.signature(_text(2))) == []


def test_short_texts_are_not_compared() -> None:
    assert _index().signature("Welcome. Log in.") is None


def test_signatures_restored_from_bytes_find_the_same_pairs() -> None:
    first = _index()
    sig = first.signature(_text(3))
    raw = NearDuplicates.signature_bytes(sig)
    again = _index()
    again.restore("a", raw)
    assert [r for r, _ in again.add("b", again.signature(_text(3)))] == ["a"]


def test_a_forgotten_record_is_not_proposed() -> None:
    near = _index()
    near.add("a", near.signature(_text(4)))
    near.forget("a")
    assert near.add("b", near.signature(_text(4))) == []
