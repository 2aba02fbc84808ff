"""Consistent copies of the files a running installation keeps changing.

Each copier takes one kind of file as its writers leave it between two of their steps:

- a SQLite store: ``VACUUM INTO`` a new file, one read transaction, so the copy is the
  store as of one commit (WAL readers never block the store's writer);
- an embedded index kind (a tantivy directory): the segments named by ``meta.json``, read
  the way tantivy's own readers in other processes read them: ``.tantivy-meta.lock`` is
  held while ``meta.json`` is read and every segment file it names is opened, which keeps
  the writer's garbage collection from deleting them; once open, a file deleted by a later
  merge keeps its content for us. The writer is never stopped and its lock never taken;
- a sealed evidence log: the log and its sidecars (heads, leaves, tokens, witnesses) under
  a shared ``flock`` of the log, which appends and seals hold exclusively, so every head
  copied covers records that are in the copied log.

Every other file is copied as it is. Reads no settings.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from evidence.sealedlog import sidecar

SQLITE_MAGIC = b"SQLite format 3\x00"
LOG_SIDECARS = ("heads", "leaves", "tokens", "witnessed")
TANTIVY_META = "meta.json"
TANTIVY_META_LOCK = ".tantivy-meta.lock"
TANTIVY_MANAGED = ".managed.json"
# A merge may replace meta.json between our read and our opens; a fresh read then succeeds.
SNAPSHOT_ATTEMPTS = 20


class CopyFailed(OSError):
    """A file could not be copied consistently; the message names it."""


def is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def copy_sqlite(src: Path, dest: Path) -> None:
    """The store as of its last commit, written to ``dest`` (a new file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(src, timeout=60, isolation_level=None)
    except sqlite3.Error as exc:
        raise CopyFailed(f"{src}: cannot open the store: {exc}") from exc
    try:
        db.execute("PRAGMA busy_timeout=60000")
        db.execute("VACUUM INTO ?", (str(dest),))
    except sqlite3.Error as exc:
        raise CopyFailed(f"{src}: cannot copy the store: {exc}") from exc
    finally:
        db.close()


def segment_files(meta: dict[str, Any], names: list[str]) -> list[str]:
    """The files of ``names`` that belong to the segments a tantivy ``meta.json`` lists."""
    wanted: list[str] = []
    for segment in meta.get("segments") or []:
        prefix = str(segment["segment_id"]).replace("-", "")
        deletes = segment.get("deletes")
        live_del = f"{prefix}.{deletes['opstamp']}.del" if deletes else None
        for name in names:
            parts = name.split(".")
            if parts[0] != prefix:
                continue
            if len(parts) == 2 or name == live_del:
                wanted.append(name)
    return sorted(wanted)


@contextlib.contextmanager
def _flocked(path: Path, how: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, how)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def copy_tantivy(src: Path, dest: Path) -> dict[str, Any]:
    """The last committed state of one tantivy index directory; returns what was copied."""
    for _ in range(SNAPSHOT_ATTEMPTS):
        opened: dict[str, BinaryIO] = {}
        try:
            with _flocked(src / TANTIVY_META_LOCK, fcntl.LOCK_EX):
                meta_bytes = (src / TANTIVY_META).read_bytes()
                meta = json.loads(meta_bytes)
                for name in segment_files(meta, os.listdir(src)):
                    opened[name] = open(src / name, "rb")  # closed below
        except FileNotFoundError:
            for handle in opened.values():
                handle.close()
            continue
        except ValueError as exc:
            raise CopyFailed(f"{src / TANTIVY_META}: not a tantivy meta file ({exc})") from exc
        try:
            dest.mkdir(parents=True, exist_ok=True)
            for name, handle in opened.items():
                with open(dest / name, "wb") as out:
                    shutil.copyfileobj(handle, out)
        finally:
            for handle in opened.values():
                handle.close()
        (dest / TANTIVY_META).write_bytes(meta_bytes)
        # tantivy's list of the files it may garbage-collect: the restored index keeps
        # deleting the segments its merges replace.
        managed = sorted([*opened, TANTIVY_META])
        (dest / TANTIVY_MANAGED).write_text(json.dumps(managed) + "\n", encoding="utf-8")
        return {"segments": len(meta.get("segments") or []), "opstamp": meta.get("opstamp"),
                "docs": sum(int(s.get("max_doc", 0)) - int((s.get("deletes") or {}).get(
                    "num_deleted_docs", 0)) for s in meta.get("segments") or [])}
    raise CopyFailed(f"{src}: the index changed under every one of {SNAPSHOT_ATTEMPTS} "
                     "attempts to copy it; try again")


def sealed_log_files(log: Path) -> list[Path]:
    """The log and those of its sidecars that exist."""
    return [p for p in [log, *(sidecar(log, kind) for kind in LOG_SIDECARS)] if p.exists()]


def copy_sealed_log(log: Path, dest: Path) -> list[Path]:
    """The log and its sidecars as of one moment between appends; returns the sources."""
    if not log.exists():
        return []
    with _flocked(log, fcntl.LOCK_SH):
        sources = sealed_log_files(log)
        for path in sources:
            target = dest.parent / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return sources


def copy_plain(src: Path, dest: Path) -> bool:
    """Copy one file as it is; False when it vanished meanwhile."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(src, dest)
    except FileNotFoundError:
        return False
    return True
