"""Size-rotated WARC files (gzip per record) under one directory, each sealed when closed.

A file is written as ``NAME.warc.gz.open`` and renamed ``NAME.warc.gz`` when it is closed,
which happens once it holds ``crawler.warc_max_bytes`` or more, and at the end of a crawl.
The records of one page always go into one file. Closing a file appends one ``warc_file``
record to the capture log: its name, SHA-256, size, record count and first/last WARC-Date.
A file left open by a crash is recovered by the next writer: cut after its last complete
record (the torn tail is reported), renamed and sealed like any other; a file another
writer still holds (its ``flock``) is left alone. Reads no settings:
the directory, size and log come from the caller.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from crawler.warc.records import new_writer, record_id, warcinfo_record

log = logging.getLogger(__name__)

SUFFIX = ".warc.gz"
OPEN_SUFFIX = SUFFIX + ".open"


class CaptureLog(Protocol):
    """Where captures are recorded: append JSON records, get them back with their ``seq``."""

    def append_many(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Written:
    """Where one record went."""

    warc: str  # the file's final name (without .open)
    offset: int
    length: int
    id: str
    type: str
    date: str

    def to_json(self) -> dict[str, Any]:
        return {"warc": self.warc, "offset": self.offset, "length": self.length, "id": self.id,
                "type": self.type, "date": self.date}


@dataclass
class _Open:
    path: Path
    name: str
    fh: Any
    records: int = 0
    first: str = ""
    last: str = ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def complete_members(path: Path) -> list[int]:
    """End offsets of the complete gzip members of a file (one WARC record each).

    A member cut by a crash never reaches its end marker, so it is not listed; output is
    decompressed in bounded steps and dropped.
    """
    ends: list[int] = []
    offset = 0  # file offset of the first byte of ``data``
    decomp = zlib.decompressobj(31)
    data = b""
    with path.open("rb") as fh:
        while True:
            if not data:
                data = fh.read(1 << 20)
                if not data:
                    break
            try:
                decomp.decompress(data, 1 << 20)
            except zlib.error:
                break
            if decomp.eof:
                used = len(data) - len(decomp.unused_data)
                offset += used
                ends.append(offset)
                data = decomp.unused_data
                decomp = zlib.decompressobj(31)
            else:
                offset += len(data) - len(decomp.unconsumed_tail)
                data = decomp.unconsumed_tail
    return ends


def scan(path: Path) -> tuple[int, str, str]:
    """(records, first date, last date) of a WARC file of complete records."""
    count, first, last = 0, "", ""
    with path.open("rb") as fh:
        records = ArchiveIterator(fh)
        try:
            for record in records:
                date = str(record.rec_headers.get_header("WARC-Date") or "")
                records.read_to_end(record)
                count += 1
                first, last = first or date, date
        except (ArchiveLoadFailed, EOFError, OSError, ValueError) as exc:
            log.warning("%s: unreadable after record %d (%s)", path, count, exc)
    return count, first, last


class WarcFiles:
    """Writes records to the current WARC file; rotates, seals and recovers files."""

    def __init__(self, directory: Path, max_bytes: int, capture_log: CaptureLog,
                 info: dict[str, str], prefix: str = "heroes"):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.capture_log = capture_log
        self.info = info
        self.prefix = prefix
        self.sealed: list[dict[str, Any]] = []
        self._current: _Open | None = None
        self._seq = 0
        self.directory.mkdir(parents=True, exist_ok=True)

    def recover(self) -> list[dict[str, Any]]:
        """Seal files a crashed writer left open; returns their capture-log records."""
        out = []
        for path in sorted(self.directory.glob(f"*{OPEN_SUFFIX}")):
            with path.open("rb") as probe:
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live crawl is writing it
                fcntl.flock(probe, fcntl.LOCK_UN)
            ends = complete_members(path)
            end = ends[-1] if ends else 0
            size = path.stat().st_size
            if end < size:
                log.warning("%s: torn tail of %d bytes after record %d cut", path, size - end,
                            len(ends))
                with path.open("r+b") as fh:
                    fh.truncate(end)
                    os.fsync(fh.fileno())
            count, first, last = scan(path)
            final = path.with_name(path.name[: -len(".open")])
            os.replace(path, final)
            if count:
                out.append(self._seal(final, count, first, last, recovered=True))
            else:
                final.unlink()
        return out

    def _open(self) -> _Open:
        self._seq += 1
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        name = f"{self.prefix}-{stamp}-{os.getpid()}-{self._seq:05d}{SUFFIX}"
        path = self.directory / (name + ".open")
        fh = path.open("xb")
        # Held while the file is written: recovery by another process leaves it alone.
        fcntl.flock(fh, fcntl.LOCK_EX)
        current = _Open(path, name, fh)
        self._current = current
        self._write_one(current, warcinfo_record(new_writer(fh), name, self.info))
        return current

    def _write_one(self, current: _Open, record: ArcWarcRecord) -> Written:
        offset = current.fh.tell()
        new_writer(current.fh).write_record(record)
        date = str(record.rec_headers.get_header("WARC-Date") or "")
        current.records += 1
        current.first, current.last = current.first or date, date
        return Written(current.name, offset, current.fh.tell() - offset, record_id(record),
                       record.rec_type, date)

    def write(self, records: Iterable[ArcWarcRecord]) -> list[Written]:
        """Write the records of one page to the current file; rotate after it if full."""
        current = self._current or self._open()
        written = [self._write_one(current, r) for r in records]
        if current.fh.tell() >= self.max_bytes:
            self.close_current()
        return written

    def sync(self) -> None:
        """Make what was written durable (before the pages it holds are released)."""
        if self._current is not None:
            self._current.fh.flush()
            os.fsync(self._current.fh.fileno())

    def close_current(self) -> dict[str, Any] | None:
        current, self._current = self._current, None
        if current is None:
            return None
        current.fh.flush()
        os.fsync(current.fh.fileno())
        current.fh.close()
        final = current.path.with_name(current.name)
        os.replace(current.path, final)
        return self._seal(final, current.records, current.first, current.last)

    def _seal(self, path: Path, records: int, first: str, last: str,
              recovered: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "warc_file", "name": path.name,
                                 "sha256": _sha256(path), "size": path.stat().st_size,
                                 "records": records, "first": first, "last": last}
        if recovered:
            entry["recovered"] = True
        self.capture_log.append_many([entry])
        self.sealed.append(entry)
        log.info("WARC file %s sealed (%d records, %d bytes)", path.name, records,
                 entry["size"])
        return entry
