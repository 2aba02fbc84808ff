"""Append-only, hash-chained JSON-lines logs: the evidence log and the audit log.

Each record is one line ``{"seq": n, "at": ISO time, "prev": sha256 of the previous line,
"data": {...}}``; the first record's ``prev`` is 64 zeros. Editing, deleting, inserting or
reordering any record breaks the chain at that record, which :func:`verify_lines` names.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    line: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"record {self.line}: {self.message}"


class ChainLog:
    """An append-only log file; appends from several processes are serialised by flock."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, data: dict[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
        """Append one record durably (fsync) and return it with its ``hash``."""
        return self.append_many([data], at=at)[0]

    def append_many(self, items: list[dict[str, Any]], *,
                    at: datetime | None = None) -> list[dict[str, Any]]:
        """Append several records with one lock and one fsync (group commit); same chaining."""
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        written: list[dict[str, Any]] = []
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            prev, seq = self._tail(fd)
            lines = []
            for offset, data in enumerate(items):
                record = {"seq": seq + offset, "at": when, "prev": prev, "data": data}
                line = json.dumps(record, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode()
                lines.append(line + b"\n")
                prev = line_hash(line)
                written.append({**record, "hash": prev})
            os.write(fd, b"".join(lines))
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return written

    @staticmethod
    def _tail(fd: int) -> tuple[str, int]:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            return GENESIS, 1
        # Read backwards just far enough to find the last complete line.
        chunk = 4096
        pos = size
        buf = b""
        while pos > 0:
            step = min(chunk, pos)
            pos -= step
            buf = os.pread(fd, step, pos) + buf
            body = buf.rstrip(b"\n")
            if b"\n" in body or pos == 0:
                last = body.rsplit(b"\n", 1)[-1]
                record = json.loads(last)
                return line_hash(last), int(record["seq"]) + 1
        return GENESIS, 1

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for raw in fh:
                if raw.strip():
                    record = json.loads(raw)
                    record["hash"] = line_hash(raw)
                    yield record


def verify_lines(lines: Iterable[bytes]) -> ChainProblem | None:
    """The first broken record of a log, or None when the whole chain holds."""
    prev = GENESIS
    expected_seq = 1
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            return ChainProblem(number, "empty line")
        try:
            record = json.loads(raw)
        except ValueError:
            return ChainProblem(number, "not JSON")
        if not isinstance(record, dict) or record.get("prev") != prev:
            return ChainProblem(number, "does not chain to the record before it "
                                        "(edited, deleted, inserted or reordered)")
        if record.get("seq") != expected_seq:
            return ChainProblem(number, f"sequence {record.get('seq')!r}, expected {expected_seq}")
        prev = line_hash(raw)
        expected_seq += 1
    return None


def verify_file(path: Path) -> ChainProblem | None:
    with path.open("rb") as fh:
        return verify_lines(fh)
