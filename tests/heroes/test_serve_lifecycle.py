"""``heroes serve`` is one role: SIGTERM stops intake, flushes the spool, releases the writer."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from config import load_settings
from documents import Page
from index.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(condition: Callable[[], bool], what: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, _ = proc.communicate()
            raise AssertionError(f"{what}: not reached\n{out[-3000:]}")
        time.sleep(0.05)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def test_sigterm_flushes_the_batch_in_hand_and_releases_the_writer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Documents never get old enough to go on their own: only the stop flushes them.
    overrides = {"data_dir": str(data), "index": {"batch_age_s": 60, "batch_size": 1000}}
    settings = load_settings(None, environ={}, overrides=overrides)
    store = Store(settings)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    env["HEROES_INDEX__BATCH_AGE_S"] = "60"
    proc = subprocess.Popen(
        [sys.executable, "-m", "heroes.cli", "--data-dir", str(data), "serve", "--port",
         str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _until(lambda: _listening(port), "console listening", proc)
        lock = store.writer_lock()

        def drain_holds_lock() -> bool:
            if lock.try_acquire():
                lock.release()
                return False
            return True

        _until(drain_holds_lock, "the console's drain holding the writer lock", proc)
        pages = [Page(url=f"http://example{i}.onion/", title=f"t{i}", text="x",
                      fetched_at="2026-11-28T12:00:00Z", sha256=f"{i:064x}") for i in range(5)]
        store.append(pages)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out[-3000:]
    assert store.spool.backlog() == {}
    assert lock.try_acquire(), "the console kept the writer lock after it stopped"
    lock.release()

    async def indexed() -> int:
        async with store.reader() as backend:
            return await backend.count("page")

    assert asyncio.run(indexed()) == 5
    store.close()
