"""The job state beside the frontier: content seen, counts of the job's own frontier, and the
queue of a job recorded by an earlier version handed over once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from config.sections.frontier import FrontierSettings
from crawler.frontier.sqlite_store import SqliteFrontierStore
from crawler.frontier.store import NewUrl
from crawler.jobstate import JobState

HOST = "a" * 56 + ".onion"


def test_content_recorded_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "job.sqlite"
    state = JobState(db)
    assert state.content_known("abc") is False
    # Looking does not record: a page is recorded once it is done (acked).
    assert state.content_known("abc") is False
    state.record_content("abc")
    state.close()  # as good as a kill: every write is already committed
    again = JobState(db)
    assert again.content_known("abc") is True
    assert again.content_known("def") is False


def test_counts_read_the_jobs_own_frontier(tmp_path: Path) -> None:
    db = tmp_path / "job.sqlite"
    assert JobState(db).counts() == {"requests": 0, "done": 0, "pending": 0}
    store = SqliteFrontierStore(db, FrontierSettings(), host_cap=100, host_concurrency=8)
    store.push([NewUrl(f"http://{HOST}/{i}") for i in range(3)])
    store.ack("w", [e.key for e in store.lease("w", 1)])
    store.close()
    assert JobState(db).counts() == {"requests": 3, "done": 1, "pending": 2}


def test_an_earlier_versions_unfinished_requests_are_handed_over_once(tmp_path: Path) -> None:
    db = tmp_path / "job.sqlite"
    with sqlite3.connect(db) as old:
        old.execute("CREATE TABLE requests (fp TEXT PRIMARY KEY, seq INTEGER, url TEXT,"
                    " host TEXT, depth INTEGER, priority INTEGER, callback TEXT, errback TEXT,"
                    " done INTEGER DEFAULT 0)")
        old.executemany("INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            ("f1", 1, f"http://{HOST}/", HOST, 0, 0, "parse", "failed", 1),
            ("f2", 2, f"http://{HOST}/2", HOST, 1, -1, "parse", None, 0)])
    state = JobState(db)
    legacy = state.legacy_requests()
    assert [(r.url, r.depth, r.priority, r.callback) for r in legacy] == [
        (f"http://{HOST}/2", 1, -1, "parse")]
    state.drop_legacy_requests()
    assert state.legacy_requests() == []
    assert JobState(db).legacy_requests() == []
