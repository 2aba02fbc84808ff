"""An append-only JSON-lines log sealed by signed Merkle tree heads.

Each record is one line ``{"seq": n, "at": ISO time, "data": {...}}`` (canonical JSON:
sorted keys, no spaces, UTF-8); its leaf is the line's bytes without the newline. Beside
the log ``L`` live ``L.heads`` (one signed tree head a line, :mod:`evidence.heads`),
``L.leaves`` (the 32-byte leaf hashes in record order, written before each head and in
batches: lets a check name the exact record that differs from what a head sealed; rebuilt
from the log when short) and, once
timestamped or witnessed, ``L.tokens`` and ``L.witnessed``.

Appends from several processes are serialised by ``flock`` on the log. A writer keeps only
the frontier of complete-subtree roots (:class:`evidence.merkle.Frontier`) and catches up
with records other processes appended before each write, so an append never rehashes the
log. A torn last line (a crash in the middle of a write) is moved to ``L.torn-<time>`` and
cut from the log the next time a writer opens it; every complete record is kept. Reads no
settings.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.errors import EvidenceError
from evidence.heads import TreeHead, append_line, dump_line, sign_head
from evidence.keys import SigningKey
from evidence.merkle import Frontier, leaf_hash

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 20
LEAVES_BATCH = 4096


def sidecar(path: Path, kind: str) -> Path:
    """``L.heads``, ``L.leaves``, ``L.tokens``, ``L.witnessed`` beside the log ``L``."""
    return path.with_name(f"{path.name}.{kind}")


def read_lines(path: Path) -> tuple[list[bytes], bytes]:
    """The complete lines of a file (without newlines) and its torn tail (b"" if none)."""
    if not path.exists():
        return [], b""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    return lines[:-1], lines[-1]


def last_line(fd: int) -> bytes | None:
    """The last complete line of an open file, read backwards."""
    end = os.lseek(fd, 0, os.SEEK_END)
    pos, buf = end, b""
    while pos > 0:
        step = min(4096, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        body = buf[:buf.rfind(b"\n")] if b"\n" in buf else b""
        if b"\n" in body or (pos == 0 and body):
            return body.rsplit(b"\n", 1)[-1]
    return None


def _move_aside(path: Path, torn: bytes, fd: int, keep: int) -> Path:
    aside = path.with_name(f"{path.name}.torn-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
    with aside.open("wb") as fh:
        fh.write(torn)
        fh.flush()
        os.fsync(fh.fileno())
    os.ftruncate(fd, keep)
    os.fsync(fd)
    return aside


class SealedLog:
    """One sealed log. ``append``/``append_many`` write records; ``seal`` signs a head."""

    def __init__(self, path: Path, name: str):
        self.path = Path(path)
        self.name = name
        self.heads_path = sidecar(self.path, "heads")
        self.leaves_path = sidecar(self.path, "leaves")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._frontier = Frontier()
        self._end = 0  # bytes of the log folded into the frontier
        self.repairs: list[str] = []
        self.broken: str | None = None  # why the log no longer matches its newest head
        self._pending: list[bytes] = []  # leaves not yet in the leaves file
        self._pending_first = 0
        self._mutex = threading.Lock()  # threads of one process (flock orders processes)

    @property
    def size(self) -> int:
        return self._frontier.size

    @contextmanager
    def _locked(self) -> Iterator[int]:
        with self._mutex:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._catch_up(fd)
                yield fd
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _catch_up(self, fd: int) -> None:
        """Fold records written since we last looked (by us or others) into the frontier."""
        end = os.fstat(fd).st_size
        if end < self._end:
            log.error("%s shrank from %d to %d bytes since it was last read; sealed records "
                      "may have been removed (`heroes evidence check` names them)",
                      self.path, self._end, end)
            self._frontier, self._end = Frontier(), 0
        if end == self._end:
            return
        whole = self._end == 0
        expect: TreeHead | None = None
        if whole:  # a whole read: does the log still hold what was sealed?
            self.broken = None
            try:
                expect = self.last_head()
            except EvidenceError as exc:
                self.broken = str(exc)
        new_leaves: list[bytes] = []
        pos = self._end
        pending = b""
        while pos < end:
            chunk = os.pread(fd, min(READ_CHUNK, end - pos), pos)
            pos += len(chunk)
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
            for line in lines:
                leaf = leaf_hash(line)
                self._frontier.append(leaf)
                new_leaves.append(leaf)
                if expect is not None and self._frontier.size == expect.size \
                        and self._frontier.root() != expect.root:
                    self.broken = f"records 1..{expect.size} differ from the newest head"
        if expect is not None and self._frontier.size < expect.size:
            self.broken = (f"the newest head sealed {expect.size} records, the log has "
                           f"{self._frontier.size}")
        if self.broken:
            log.error("%s: %s; no new head is signed until this is resolved "
                      "(`heroes evidence check` names the records)", self.path, self.broken)
        self._end = end - len(pending)
        if pending:
            aside = _move_aside(self.path, pending, fd, self._end)
            message = (f"{self.path}: torn last line ({len(pending)} bytes) moved to "
                       f"{aside.name}; every complete record kept")
            log.warning("%s", message)
            self.repairs.append(message)
        if whole:
            self._write_leaves(new_leaves, first=0)
            self._pending, self._pending_first = [], self._frontier.size
            self._repair_heads()
        else:
            self._pending.extend(new_leaves)

    def _flush_leaves(self) -> None:
        """Write the leaves kept in memory since the last flush (before each head, and in
        batches): the leaves file is rebuilt from the log if a crash loses some."""
        if self._pending:
            self._write_leaves(self._pending, first=self._pending_first)
        self._pending, self._pending_first = [], self._frontier.size

    def _write_leaves(self, leaves: list[bytes], first: int) -> None:
        """Keep ``L.leaves`` equal to the log's leaf hashes; a disagreeing file is kept aside.

        Leaves go at their own offset, so a process catching up with records another one
        appended rewrites the same bytes instead of duplicating them."""
        if first:
            have = self.leaves_path.stat().st_size // 32 if self.leaves_path.exists() else 0
            if have < first:  # a crash lost leaves: rebuild the file from the log
                lines, _ = read_lines(self.path)
                leaves = [leaf_hash(line) for line in lines[:first]] + leaves
                first = 0
            else:
                with self.leaves_path.open("r+b") as fh:
                    fh.seek(first * 32)
                    fh.write(b"".join(leaves))
                return
        computed = b"".join(leaves)
        stored = self.leaves_path.read_bytes() if self.leaves_path.exists() else b""
        stored = stored[:len(stored) - len(stored) % 32]  # a crash may cut the last hash
        if stored != computed[:len(stored)]:
            self._reset_leaves(f"disagrees with the log ({len(stored) // 32} stored leaves, "
                               f"{len(leaves)} records)")
            stored = b""
        with self.leaves_path.open("r+b" if self.leaves_path.exists() else "wb") as fh:
            fh.truncate(len(stored))
            fh.seek(len(stored))
            fh.write(computed[len(stored):])

    def _reset_leaves(self, why: str) -> None:
        aside = self.leaves_path.with_name(
            f"{self.leaves_path.name}.mismatch-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        os.replace(self.leaves_path, aside)
        log.error("%s %s; kept as %s and rebuilt from the log", self.leaves_path, why, aside.name)

    def _repair_heads(self) -> None:
        if not self.heads_path.exists():
            return
        fd = os.open(self.heads_path, os.O_RDWR)
        try:
            end = os.fstat(fd).st_size
            if end == 0:
                return
            tail = os.pread(fd, min(end, 4096), max(0, end - 4096))
            if tail.endswith(b"\n"):
                return
            cut = tail.rfind(b"\n")
            keep = end - len(tail) + cut + 1 if cut >= 0 else 0
            aside = _move_aside(self.heads_path, tail[cut + 1:], fd, keep)
            message = f"{self.heads_path}: torn last head moved to {aside.name}"
            log.warning("%s", message)
            self.repairs.append(message)
        finally:
            os.close(fd)

    def open(self) -> SealedLog:
        """Read the log (repairing a torn last line) so that appends start from its end."""
        with self._locked():
            pass
        return self

    def append(self, data: dict[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
        """Append one record durably (fsync) and return it with its leaf ``hash`` (hex)."""
        return self.append_many([data], at=at)[0]

    def append_many(self, items: list[dict[str, Any]], *,
                    at: datetime | None = None) -> list[dict[str, Any]]:
        """Append several records with one lock and one fsync (group commit)."""
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
        with self._locked() as fd:
            first = self._frontier.size + 1
            records = [{"seq": first + i, "at": when, "data": data}
                       for i, data in enumerate(items)]
            lines = [dump_line(r) for r in records]
            blob = b"".join(line + b"\n" for line in lines)
            written = 0
            while written < len(blob):
                written += os.write(fd, blob[written:])
            os.fsync(fd)
            leaves = [leaf_hash(line) for line in lines]
            for leaf in leaves:
                self._frontier.append(leaf)
            self._end += len(blob)
            self._pending.extend(leaves)
            if len(self._pending) >= LEAVES_BATCH:
                self._flush_leaves()
        return [{**r, "hash": leaf.hex()} for r, leaf in zip(records, leaves, strict=True)]

    def last_head(self) -> TreeHead | None:
        if not self.heads_path.exists():
            return None
        fd = os.open(self.heads_path, os.O_RDONLY)
        try:
            line = last_line(fd)
        finally:
            os.close(fd)
        if line is None:
            return None
        try:
            return TreeHead.from_json(json.loads(line))
        except ValueError as exc:
            raise EvidenceError(f"{self.heads_path}: last head unreadable ({exc})") from exc

    def seal(self, key: SigningKey, *, force: bool = False,
             now_ms: int | None = None) -> TreeHead | None:
        """Sign a head over every record, unless the newest head already covers them all."""
        with self._locked():
            if self.broken:
                raise EvidenceError(f"{self.path}: not sealing: {self.broken} "
                                    "(see `heroes evidence check`)")
            self._flush_leaves()
            self._repair_heads()
            size = self._frontier.size
            last = self.last_head()
            if size == 0 or (last is not None and last.size == size and not force):
                return None
            head = sign_head(key, self.name, size, self._frontier.root(),
                             now_ms if now_ms is not None else int(time.time() * 1000))
            append_line(self.heads_path, head.to_json())
        return head

    def records(self) -> Iterator[dict[str, Any]]:
        """Every complete record with its leaf ``hash``; a line that is not JSON is skipped
        with a warning (``heroes evidence check`` reports it)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.endswith(b"\n"):
                    return  # a torn last line is not a record
                line = raw[:-1]
                try:
                    record = json.loads(line)
                except ValueError:
                    log.warning("%s:%d: not a JSON record, skipped", self.path, number)
                    continue
                if isinstance(record, dict):
                    record["hash"] = leaf_hash(line).hex()
                    yield record
