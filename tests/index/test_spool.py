"""The spool and its drain lose nothing and index nothing twice, even under SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from config import Settings
from documents import Page, Torrent
from index.spool import Spool
from index.store import Store
from query.model import Search, Term

N_DOCS = 3000


def page(i: int) -> Page:
    return Page(url=f"http://example{i % 7}.onion/p/{i}", title=f"item {i}", text=f"word{i} common",
                fetched_at="2026-11-28T12:00:00Z", sha256=f"{i:064x}")


def test_append_peek_done_reject(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    assert spool.append([page(1), page(2), page(3)]) == 3
    items = spool.peek(10)
    assert [i.body["title"] for i in items] == ["item 1", "item 2", "item 3"]
    spool.done([items[0].seq])
    spool.reject([(items[1], "mapping conflict on status")])
    assert spool.backlog() == {"page": 1}
    assert spool.rejected()[0]["reason"] == "mapping conflict on status"
    assert spool.rejected_count() == 1


def test_the_depth_by_kind_is_kept_through_every_write(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    spool.append([page(i) for i in range(5)])
    spool.append([Torrent(infohash=f"{i:040x}", first_seen="2026-11-28T12:00:00Z")
                  for i in range(3)])
    assert spool.backlog() == {"page": 5, "torrent": 3}
    items = spool.peek(10)
    spool.done([i.seq for i in items if i.kind == "page"][:4])
    spool.done([items[0].seq])  # done already: not counted twice
    spool.reject([(next(i for i in items if i.kind == "torrent"), "refused")])
    assert spool.backlog() == {"page": 1, "torrent": 2}
    spool.done([i.seq for i in spool.peek(10)])
    assert spool.backlog() == {}


def test_a_spool_written_before_the_counts_has_them_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    with sqlite3.connect(path) as old:  # version 1: the tables without the counts
        old.executescript(
            "CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
            " doc_id TEXT NOT NULL, body TEXT NOT NULL, added_at REAL NOT NULL);"
            "CREATE TABLE rejected (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, doc_id TEXT"
            " NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL, rejected_at REAL NOT NULL);"
            "PRAGMA user_version = 1;")
        old.executemany("INSERT INTO spool (kind, doc_id, body, added_at) VALUES (?,?,?,?)",
                        [*[("page", f"p{i}", "{}", 0.0) for i in range(4)],
                         ("torrent", "t", "{}", 0.0)])
    spool = Spool(path)
    assert spool.backlog() == {"page": 4, "torrent": 1}
    spool.append([page(1)])
    assert spool.backlog() == {"page": 5, "torrent": 1}


def test_holds_and_oldest_age_read_the_front_of_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    assert spool.oldest_age() is None and not spool.holds(1)
    spool.append([page(1)])
    first_appended = time.time()  # page 1 was stamped before, pages 2 and 3 after
    spool.append([page(2), page(3)])
    assert spool.holds(3) and not spool.holds(4)
    before = time.time()
    age = spool.oldest_age()
    assert age is not None and age >= before - first_appended
    items = spool.peek(10)
    spool.done([items[0].seq])
    assert spool.holds(2) and not spool.holds(3)
    later = spool.oldest_age()
    assert later is not None and later <= time.time() - first_appended
    spool.done([i.seq for i in items[1:]])
    assert spool.oldest_age() is None and not spool.holds(1)


def test_two_processes_append_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    code = (
        "import sys; from pathlib import Path; from index.spool import Spool;"
        "from tests.index.test_spool import page;"
        "s = Spool(Path(sys.argv[1])); off = int(sys.argv[2]);"
        "[s.append([page(off + i)]) for i in range(200)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(k * 1000)], cwd=ROOT)
             for k in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert Spool(path).backlog() == {"page": 600}


ROOT = Path(__file__).resolve().parents[2]

PRODUCER = """
import sys
from pathlib import Path
from config import load_settings
from index.store import Store
from tests.index.test_spool import page
settings = load_settings(None, environ={}, overrides={"data_dir": sys.argv[1]})
progress = Path(sys.argv[1]) / "producer.progress"
start = int(progress.read_text()) if progress.exists() else 0
store = Store(settings)
for i in range(start, int(sys.argv[2]), 25):
    store.append([page(j) for j in range(i, min(i + 25, int(sys.argv[2])))])
    # Replaced whole: a kill while writing leaves the old count, never an empty file.
    ahead = progress.with_suffix(".next")
    ahead.write_text(str(i + 25))
    ahead.replace(progress)
"""


def _run_with_kills(args: list[str], rng: random.Random, kills: int, env: dict[str, str]) -> None:
    """Start a process, SIGKILL it at random moments, restart it, finally let it finish."""
    for _ in range(kills):
        proc = subprocess.Popen(args, cwd=ROOT, env=env)
        try:
            proc.wait(timeout=rng.uniform(0.3, 1.5))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    subprocess.run(args, cwd=ROOT, env=env, check=True, timeout=300)


@pytest.mark.timeout(600)
def test_sigkill_producer_and_drainer_lose_nothing(tmp_path: Path,
                                                   make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(index={"batch_size": 100})
    data_dir = str(settings.data_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(7)
    producer = [sys.executable, "-c", PRODUCER, data_dir, str(N_DOCS)]
    drainer = [sys.executable, "-m", "heroes.cli", "--data-dir", data_dir,
               "--config", str(_write_config(tmp_path)), "index", "drain"]
    # Producer and drainer run side by side and are each killed several times.
    deadline = time.monotonic() + 400
    prod = subprocess.Popen(producer, cwd=ROOT, env=env)
    kills = 0
    while prod.poll() is None and time.monotonic() < deadline:
        d = subprocess.Popen(drainer, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        try:
            d.wait(timeout=rng.uniform(0.2, 1.2))
        except subprocess.TimeoutExpired:
            d.send_signal(signal.SIGKILL)
            d.wait()
        if kills < 4 and prod.poll() is None:
            prod.send_signal(signal.SIGKILL)
            prod.wait()
            kills += 1
            prod = subprocess.Popen(producer, cwd=ROOT, env=env)
    assert prod.wait(timeout=300) == 0
    _run_with_kills(drainer, rng, 3, env)
    store = Store(settings)
    assert store.spool.backlog() == {}

    async def check() -> None:
        async with store.reader() as backend:
            assert await backend.count("page") == N_DOCS
            for i in rng.sample(range(N_DOCS), 50):
                result = await backend.search(Search("page", Term("url", page(i).url), size=5))
                assert result["hits"]["total"]["value"] == 1
                assert result["hits"]["hits"][0]["_id"] == page(i).id

    asyncio.run(check())


def _write_config(tmp_path: Path) -> Path:
    path = tmp_path / "crash.toml"
    path.write_text("[index]\nbatch_size = 100\n")
    return path


def test_spool_json_is_plain(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite")
    spool.append([page(5)])
    body = spool.peek(1)[0].body
    assert json.loads(json.dumps(body)) == page(5).source()


async def _until(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def test_drain_writes_a_full_batch_before_the_age_and_a_partial_one_at_it(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(index={"batch_size": 10, "batch_age_s": 60})
    store = Store(settings)

    async def scenario() -> None:
        stop = asyncio.Event()
        async with store.drain_role() as role:
            task = asyncio.create_task(role.run(stop))
            store.append([page(i) for i in range(3)])
            store.append([page(i) for i in range(3, 13)])
            # Thirteen waiting, none of them 60 s old: exactly one full batch goes.
            await _until(lambda: role.drained == 10)
            assert sum(store.spool.backlog().values()) == 3
            stop.set()
            await asyncio.wait_for(task, timeout=30)
        # On stop the batch in hand (the three young documents) is flushed.
        assert store.spool.backlog() == {}
        assert role.drained == 13
        assert not store.writer_lock().held

    asyncio.run(scenario())
    aged = make_settings(index={"batch_size": 1000, "batch_age_s": 0.1},
                         data_dir=str(Path(settings.data_dir).parent / "aged"))
    store_aged = Store(aged)

    async def partial() -> None:
        stop = asyncio.Event()
        async with store_aged.drain_role() as role:
            task = asyncio.create_task(role.run(stop))
            store_aged.append([page(1)])
            # One document, far from a full batch: it goes once it waited batch_age_s.
            await _until(lambda: store_aged.spool.backlog() == {})
            assert role.drained == 1
            stop.set()
            await asyncio.wait_for(task, timeout=30)
        async with store_aged.reader() as backend:
            assert await backend.count("page") == 1

    asyncio.run(partial())
    store.close()
    store_aged.close()


def test_drain_role_leaves_the_spool_to_the_lock_holder(
    make_settings: Callable[..., Settings],
) -> None:
    store = Store(make_settings())
    other = store.writer_lock()
    assert other.try_acquire()

    async def scenario() -> None:
        stop = asyncio.Event()
        store.append([page(1)])
        async with store.drain_role(lock_poll_s=0.05) as role:
            task = asyncio.create_task(role.run(stop))
            await asyncio.sleep(0)
            stop.set()
            await asyncio.wait_for(task, timeout=30)
        assert role.drainer is None
        assert store.spool.backlog() == {"page": 1}

    try:
        asyncio.run(scenario())
    finally:
        other.release()
        store.close()
