"""The job state keeps the frontier across processes: what is not done is pending again."""

from __future__ import annotations

from pathlib import Path

from crawler.jobstate import JobState


def test_pending_survives_reopen_and_done_is_final(tmp_path: Path) -> None:
    db = tmp_path / "job.sqlite"
    state = JobState(db)
    assert state.add("fp1", "http://a.onion/", "a.onion", 0, 0, "parse", "failed") is not None
    assert state.add("fp2", "http://a.onion/2", "a.onion", 1, -1, "parse", None) is not None
    assert state.add("fp1", "http://a.onion/", "a.onion", 0, 0, "parse", None) is None
    state.mark_done(["fp1"])
    state.close()  # as good as a kill: every write is already committed

    again = JobState(db)
    assert [p.url for p in again.pending()] == ["http://a.onion/2"]
    assert again.add("fp1", "http://a.onion/", "a.onion", 0, 0, None, None, force=True) is None
    assert again.add("fp2", "http://a.onion/2", "a.onion", 1, 0, None, None, force=True) is not None
    assert again.host_count("a.onion") == 2
    assert again.counts() == {"requests": 2, "done": 1, "pending": 1}
    assert again.content_seen("abc") is False
    assert again.content_seen("abc") is True
