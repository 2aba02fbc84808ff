"""Group commit of spool appends: one transaction for the appends that queue together, each
append acknowledged only once its rows are committed, a failure raised by every one."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from index.spool import Spool, dumps, loads
from tests.index.test_spool import page

THREADS = 8


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def _appenders(spool: Spool, errors: list[BaseException]) -> list[threading.Thread]:
    def one(k: int) -> None:
        try:
            spool.append([page(k * 10 + j) for j in range(3)])
        except BaseException as exc:  # collected for the assertions
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    return threads


def test_appends_queued_together_share_one_commit_and_wait_for_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    errors: list[BaseException] = []
    # Hold the commit as a slow fsync would: every append queues behind it.
    with spool._commit_lock:
        threads = _appenders(spool, errors)
        _wait_for(lambda: len(spool._queued) == THREADS)
        # Nobody was acknowledged before the commit: all still waiting, nothing stored.
        assert all(t.is_alive() for t in threads)
        assert spool.backlog() == {}
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert spool.commits == 1
    assert spool.backlog() == {"page": THREADS * 3}
    # Each caller's rows stay together and in its order.
    titles = [d.body["title"] for d in spool.peek(100)]
    for k in range(THREADS):
        at = titles.index(f"item {k * 10}")
        assert titles[at:at + 3] == [f"item {k * 10 + j}" for j in range(3)]
    spool.close()


def test_a_failed_group_commit_fails_every_append_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    errors: list[BaseException] = []

    class Failing:
        def __enter__(self) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        def __exit__(self, *_: object) -> None:
            return None

    with spool._commit_lock:
        threads = _appenders(spool, errors)
        _wait_for(lambda: len(spool._queued) == THREADS)
        monkeypatch.setattr(spool, "_transaction", Failing)
    for t in threads:
        t.join(timeout=30)
    assert len(errors) == THREADS
    assert all(isinstance(e, sqlite3.OperationalError) for e in errors)
    monkeypatch.undo()
    assert spool.backlog() == {}
    assert spool.append([page(1)]) == 1  # the spool works on afterwards
    spool.close()


def test_bodies_round_trip_with_what_orjson_refuses() -> None:
    body = {"title": "caf\u00e9 \u2603", "size": 2**70, "n": [1, 2.5, None, True]}
    text = dumps(body)
    assert "\\u" not in text  # UTF-8 as written, no escapes
    assert loads(text) == body
    assert loads('{"x": NaN}')["x"] != loads('{"x": NaN}')["x"]  # stdlib rows still read
