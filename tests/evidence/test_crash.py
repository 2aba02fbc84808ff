"""SIGKILL of a process appending between two heads: nothing complete is lost, the torn
line is repaired and the unsealed tail is sealed on restart (a real subprocess)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from evidence.check import check_log
from evidence.keys import SigningKey

ROOT = Path(__file__).resolve().parents[2]


def run_child(log: Path, key: SigningKey, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.evidence.crash_child", str(log),
                             str(key.path), "0.3", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_until(proc: subprocess.Popen[str], done, timeout: float = 60) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while not done(lines):
        left = deadline - time.monotonic()
        assert left > 0, f"child did not get there: {lines[-5:]}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            line = proc.stdout.readline()
            assert line, f"child exited: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line.strip())
    return lines


def test_sigkill_between_heads(tmp_path: Path, key: SigningKey) -> None:
    log = tmp_path / "crash.jsonl"
    child = run_child(log, key)
    heads_seen: list[int] = []

    def enough(lines: list[str]) -> bool:
        heads_seen[:] = [int(x.split()[1]) for x in lines if x.startswith("sealed")]
        appended = [x for x in lines if x.startswith("appended")]
        return len(heads_seen) >= 2 and len(appended) > heads_seen[-1] + 20

    lines = read_until(child, enough)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    durable = [int(x.split()[1]) for x in lines if x.startswith("appended")]
    with log.open("ab") as fh:  # the half-written line a crash in the middle of a write leaves
        fh.write(b'{"at":"2026-12-01T20:00:00+00:00","data":{"n":')
    trusted = {key.key_id: key.public}
    before = check_log("crash", log, trusted)
    assert before.ok, before.problems
    assert before.unsealed >= durable[-1] - heads_seen[-1] > 0
    assert any("torn last line" in n for n in before.notes)

    again = run_child(log, key, "--once")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "repaired" in out and f"sealed {before.records}" in out
    after = check_log("crash", log, trusted)
    assert after.ok and after.unsealed == 0 and not after.notes, (after.problems, after.notes)
    assert after.records >= durable[-1]  # every record reported durable is still there
    seqs = [int(line.split(b'"seq":')[1].split(b"}")[0].split(b",")[0])
            for line in log.read_bytes().splitlines()]
    assert seqs == list(range(1, after.records + 1))
    assert list(tmp_path.glob("crash.jsonl.torn-*"))
