"""What crawler processes under test have written so far, read while they run: spooled pages,
page captures, and a wait on a condition that fails with the log of any process that ended;
the NEWNYMs a lab Tor client received while they ran; the reaping of those processes;
:func:`poll`, the wait on a condition of the test's own objects; and :func:`files_holding`,
the search of what a crawl wrote for bytes it must never write."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import stem
from stem.control import Controller, EventType
from stem.response.events import Event

from crawler.warc.capture import capture_log_path

NEWNYM_SEEN_TIMEOUT_S = 30.0


def poll(cond: Callable[[], Any], what: str, timeout: float, every: float = 0.05) -> Any:
    """``cond()``'s first truthy value; fail naming ``what`` if none came within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.1f}s")
        time.sleep(every)
    return value


def files_holding(blobs: Sequence[bytes], roots: Sequence[Path], since: float,
                  skip: Sequence[Path] = ()) -> list[str]:
    """The files under ``roots`` modified since ``since`` that contain one of ``blobs``
    (symlinks, files over 200 MB, virtualenvs, git and node directories, and anything under
    ``skip`` left out)."""
    hits = []
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".venv", ".git", "node_modules")
                       and Path(folder, d) not in skip]
            for name in names:
                path = Path(folder, name)
                try:
                    if not path.is_file() or path.is_symlink():
                        continue
                    meta = path.stat()
                    if meta.st_mtime < since or meta.st_size > 200_000_000:
                        continue
                    data = path.read_bytes()
                except OSError:
                    continue
                if any(blob in data for blob in blobs):
                    hits.append(str(path))
    return hits


def spooled_urls(data_dir: Path) -> list[str]:
    """The URL of every page in the spool, once per spooled copy."""
    spool = data_dir / "spool.sqlite"
    if not spool.exists():
        return []
    try:
        with sqlite3.connect(spool, timeout=5) as db:
            rows = db.execute("SELECT body FROM spool WHERE kind = 'page'").fetchall()
    except sqlite3.Error:
        return []
    return [json.loads(body)["url"] for (body,) in rows]


def captures(data_dir: Path) -> list[dict[str, Any]]:
    """The page captures so far, one per fetch (lines still being written are skipped)."""
    path = capture_log_path(data_dir)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            data = json.loads(line).get("data", {})
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("type") == "page_capture":
            out.append(data)
    return out


def wait_for(what: str, done: Callable[[], bool],
             procs: subprocess.Popen[str] | Sequence[subprocess.Popen[str]],
             timeout_s: float, logs: Path | Sequence[Path]) -> None:
    """Poll ``done`` until it holds; fail if it does not within ``timeout_s`` or if one of
    ``procs`` ends first, with the tail of that process's log (``logs`` pairs with
    ``procs``)."""
    procs = [procs] if isinstance(procs, subprocess.Popen) else list(procs)
    logs = [logs] if isinstance(logs, Path) else list(logs)
    deadline = time.monotonic() + timeout_s
    while not done():
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None and not done():
                pytest.fail(f"{log.stem} ended while waiting for {what}:\n{tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout_s:.0f} s:\n{tail(logs[0])}")
        time.sleep(0.1)


def tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def reap(procs: subprocess.Popen[str] | Sequence[subprocess.Popen[str]]) -> None:
    """Kill whichever of ``procs`` still runs, wait for it, and close its stdout pipe."""
    for proc in [procs] if isinstance(procs, subprocess.Popen) else procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()


@contextmanager
def newnym_watch(control_port: int) -> Iterator[list[str]]:
    """The NEWNYMs the lab Tor client at ``control_port`` receives while the block runs.

    Yields a list that fills with one ``SIGNAL NEWNYM`` per NEWNYM the client acts on, and a
    ``NOTICE`` for each it delays (asked for within 10 s of the last one): an empty list at
    the end means none was asked for. One NEWNYM is sent and seen acted on first, so the
    listener is known to work and none from setting the lab up is still pending; the list
    starts empty.
    """
    events: list[str] = []
    changed = threading.Condition()

    def on_event(event: Event) -> None:
        if event.type == "SIGNAL":
            line = f"SIGNAL {event.signal}"  # type: ignore[attr-defined]
        elif "NEWNYM" in str(event.message):  # type: ignore[attr-defined]
            # "Rate limiting NEWNYM request: delaying by N second(s)": one was asked for.
            line = f"NOTICE {event.message}"  # type: ignore[attr-defined]
        else:
            return
        with changed:
            events.append(line)
            changed.notify_all()

    def wait(what: str, done: Callable[[], bool]) -> None:
        with changed:
            if not changed.wait_for(done, NEWNYM_SEEN_TIMEOUT_S):
                pytest.fail(f"{what} not seen within {NEWNYM_SEEN_TIMEOUT_S:.0f} s: {events}")

    try:
        controller = Controller.from_port(port=control_port)
        controller.authenticate()
    except stem.SocketError as exc:
        pytest.fail(f"lab client control port: {exc}")
    try:
        controller.add_event_listener(on_event, EventType.SIGNAL, EventType.NOTICE)
        controller.signal(stem.Signal.NEWNYM)
        # Tor answers a signal before its events, and a delayed NEWNYM from setting the lab
        # up may act just before ours: HEARTBEAT's event comes after everything our NEWNYM
        # caused, so it tells whether ours acted at once or was delayed behind another.
        controller.signal(stem.Signal.HEARTBEAT)
        wait("SIGNAL HEARTBEAT", lambda: "SIGNAL HEARTBEAT" in events)
        barrier = events.index("SIGNAL HEARTBEAT")
        ours = [e for e in events[:barrier] if "NEWNYM" in e]
        if not ours:
            pytest.fail(f"the lab client did not act on NEWNYM: {events}")
        if ours[-1].startswith("NOTICE"):
            wait("the delayed SIGNAL NEWNYM", lambda: "SIGNAL NEWNYM" in events[barrier:])
        with changed:
            del events[:]
        yield events
    finally:
        controller.close()
