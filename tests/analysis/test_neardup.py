"""Near-duplicate texts with MinHash LSH: templated adverts found, unrelated text not; the
signatures and band keys live in the analysis store, so they are there after a restart, a
rolled-back batch leaves none, and a store from before band keys is banded when opened."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from analysis.graph import NothingCommon
from analysis.neardup import NearDuplicates
from analysis.runner import Analyser
from analysis.state import AnalysisDB
from config.sections.analysis import AnalysisSettings

WORDS = ("order shipping stock price quality review escrow support delivery tracking package "
         "customer account wallet refund policy item product offer discount").split()


def _text(seed: int, n: int = 200) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _index(threshold: float = 0.8, num_perm: int = 128) -> NearDuplicates:
    return NearDuplicates(threshold=threshold, num_perm=num_perm, shingle_words=5)


def _add(db: AnalysisDB, near: NearDuplicates, record: str, text: str) -> list[str]:
    """Add a page as the analyser does: the records it is near, then it is kept."""
    sig = near.signature(text)
    assert sig is not None
    with db.transaction() as conn:
        candidates = AnalysisDB.keep_minhash(conn, record, f"{record}.onion", 1, sig.tobytes(),
                                             near.band_keys(sig))
    return [r for r, _ in near.near(sig, [(c[0], c[3]) for c in candidates])]


def test_a_templated_text_is_near_and_an_unrelated_one_is_not(tmp_path: Path) -> None:
    db, near = AnalysisDB(tmp_path / "a.sqlite"), _index()
    base = _text(1)
    sig, edited_sig = near.signature(base), near.signature(base.replace("escrow", "trusted", 1))
    assert sig is not None and edited_sig is not None
    assert near.similarity(sig, edited_sig) >= 0.8
    assert _add(db, near, "a", base) == []
    assert _add(db, near, "b", base.replace("escrow", "trusted", 1)) == ["a"]
    assert _add(db, near, "c", _text(2)) == []
    db.close()


def test_a_candidate_below_the_threshold_is_not_near() -> None:
    near = _index()
    sig = near.signature(_text(5))
    assert sig is not None
    half = sig.copy()
    half[: len(half) // 2] += 1  # half the values differ: similarity 0.5
    assert near.near(sig, [("x", half.tobytes()), ("y", sig.tobytes())]) == [("y", 1.0)]


def test_short_texts_are_not_compared() -> None:
    assert _index().signature("Welcome. Log in.") is None


def test_kept_signatures_find_the_same_pairs_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    db = AnalysisDB(path)
    _add(db, _index(), "a", _text(3))
    db.close()
    again = AnalysisDB(path)
    assert _add(again, _index(), "b", _text(3)) == ["a"]
    again.close()


def test_a_rolled_back_batch_leaves_no_band_key(tmp_path: Path) -> None:
    db, near = AnalysisDB(tmp_path / "a.sqlite"), _index()
    sig = near.signature(_text(4))
    assert sig is not None
    with pytest.raises(RuntimeError), db.transaction() as conn:
        AnalysisDB.keep_minhash(conn, "a", "a.onion", 1, sig.tobytes(), near.band_keys(sig))
        raise RuntimeError("the batch failed")
    assert db.conn.execute("SELECT count(*) FROM minhash_bands").fetchone()[0] == 0
    assert _add(db, near, "b", _text(4)) == []
    db.close()


def _version_1_store(path: Path, signatures: dict[str, np.ndarray]) -> None:
    """An analysis store as version 1 wrote it: signatures without numbers or band keys."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE minhash (record TEXT PRIMARY KEY, member TEXT NOT NULL, "
                   "at_ms INTEGER NOT NULL, sig BLOB NOT NULL)")
        db.executemany("INSERT INTO minhash VALUES (?, ?, ?, ?)",
                       [(r, f"{r}.onion", 1, s.tobytes()) for r, s in signatures.items()])
        db.execute("PRAGMA user_version = 1")


def test_a_store_from_before_band_keys_is_banded_when_the_analyser_starts(
        tmp_path: Path) -> None:
    path, near = tmp_path / "a.sqlite", _index()
    old = near.signature(_text(6))
    assert old is not None
    other_scheme = np.arange(64, dtype=np.uint32)  # another num_perm: never comparable
    _version_1_store(path, {"old": old, "other": other_scheme})
    db = AnalysisDB(path)
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert db.band_layout() == ""
    Analyser(AnalysisSettings(), db, lambda docs: 0, common=NothingCommon())
    assert db.band_layout() == near.layout.as_text()
    banded = db.conn.execute("SELECT count(DISTINCT seq) FROM minhash_bands").fetchone()[0]
    assert banded == 1
    assert _add(db, near, "new", _text(6)) == ["old"]
    db.close()


def test_other_minhash_settings_make_the_band_keys_again(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    db = AnalysisDB(path)
    Analyser(AnalysisSettings(), db, lambda docs: 0, common=NothingCommon())
    _add(db, _index(), "a", _text(7))
    looser = AnalysisSettings(minhash_threshold=0.5)
    Analyser(looser, db, lambda docs: 0, common=NothingCommon())
    relaxed = _index(threshold=0.5)
    assert relaxed.layout != _index().layout
    assert db.band_layout() == relaxed.layout.as_text()
    assert _add(db, relaxed, "b", _text(7)) == ["a"]
    db.close()
