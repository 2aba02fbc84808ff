"""Deconfliction store: one current assignment per peer, every change kept in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.triage import peer_data as pd
from triage.assignments import Assignments, assignments_path
from triage.errors import TriageError


def test_assign_reassign_release_keep_history(tmp_path: Path) -> None:
    store = Assignments(assignments_path(tmp_path))
    try:
        store.assign(pd.TOP, "LAB-1", "alice", by="alice", now=pd.T0)
        store.assign(pd.TOP, "LAB-2", "bob", by="root", note="handed over", now=pd.NOW)
        current = store.get(pd.TOP)
        assert current is not None and (current.case_number, current.analyst) == ("LAB-2", "bob")
        assert store.release(pd.TOP, by="bob") is not None and store.get(pd.TOP) is None
        assert store.release(pd.TOP, by="bob") is None
        history = store.history(pd.TOP)
        assert [(h["case_number"], h["released"]) for h in history] == [
            ("LAB-1", False), ("LAB-2", False), ("LAB-2", True)]
    finally:
        store.close()
    reopened = Assignments(assignments_path(tmp_path))
    try:
        assert len(reopened.history(pd.TOP)) == 3
    finally:
        reopened.close()


def test_bad_case_or_analyst_is_refused(tmp_path: Path) -> None:
    store = Assignments(assignments_path(tmp_path))
    try:
        with pytest.raises(TriageError, match=r"^case: .*'two words'"):
            store.assign(pd.TOP, "two words", "alice", by="alice")
        with pytest.raises(TriageError, match=r"^analyst: "):
            store.assign(pd.TOP, "LAB-1", " ", by="alice")
        assert store.get(pd.TOP) is None
    finally:
        store.close()
