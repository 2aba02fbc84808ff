"""Bookkeeping of the lab's background processes: started detached, identified by pid + start time.

A pid alone is not enough to stop a process safely: after a reboot or a crash the number may
belong to something else. Each record therefore keeps the start time from ``/proc/PID/stat``,
and :func:`stop` signals only processes whose start time still matches. Reads no settings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProcRecord:
    name: str
    pid: int
    start_time: int
    log: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; everything after the last ')' is fixed.
    return raw[raw.rindex(")") + 2 :].split()


def start_time_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    # Field 22 (starttime) is index 19 after dropping pid and comm.
    return int(fields[19]) if fields else None


def is_alive(record: ProcRecord) -> bool:
    fields = _stat_fields(record.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == record.start_time


def spawn(name: str, argv: Sequence[str], log: Path, cwd: Path | None = None) -> ProcRecord:
    """Start ``argv`` detached from our session (it outlives ``heroes lab up``)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    started = start_time_of(proc.pid)
    if started is None:
        raise RuntimeError(f"{name}: process {proc.pid} exited at once; see {log}")
    return ProcRecord(name, proc.pid, started, str(log))


# Popen objects of processes started by this interpreter, so that stopping them also reaps them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)


def stop(records: Sequence[ProcRecord], grace_s: float = 10.0) -> list[str]:
    """SIGTERM each live record, SIGKILL what is left after ``grace_s``; returns names stopped."""
    live = [r for r in records if is_alive(r)]
    for record in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    pending = list(live)
    while pending and time.monotonic() < deadline:
        for record in pending:
            _reap(record.pid)
        pending = [r for r in pending if is_alive(r)]
        if pending:
            time.sleep(0.05)
    for record in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
    for record in live:
        proc = _CHILDREN.pop(record.pid, None)
        if proc is not None:
            proc.wait(timeout=5)
    return [r.name for r in live]


def log_tail(path: str | Path, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
