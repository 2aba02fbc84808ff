"""Find the capture of a page or of an onion service again: what an evidence export bundles.

:func:`capture_selection` reads the installation's capture log and returns, for one URL or
one onion host, the ``page_capture`` records, the ``warc_file`` records that seal the WARC
files they point into, and the byte range of every WARC record of those pages (each range
is one whole gzip member, so ranges concatenated form a valid ``.warc.gz``);
:func:`write_warc` does that concatenation. Records pointing into a file that is not sealed
yet are listed in ``unsealed``. Reads no settings beyond the data directory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.warc.capture import capture_log_path, warc_dir


@dataclass(frozen=True)
class ByteRange:
    path: Path  # the WARC file
    offset: int
    length: int
    record_id: str
    type: str


@dataclass
class CaptureSelection:
    log_path: Path
    page_records: list[dict[str, Any]] = field(default_factory=list)  # seq, at, data, hash
    file_records: list[dict[str, Any]] = field(default_factory=list)
    ranges: list[ByteRange] = field(default_factory=list)
    unsealed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.page_records


def _host(service: str) -> str:
    service = service.strip().lower()
    host = urlsplit(service).hostname if "://" in service else service.split("/")[0]
    return host or ""


def capture_selection(data_dir: Path | str, *, url: str | None = None,
                      service: str | None = None) -> CaptureSelection:
    """The capture-log records and WARC byte ranges of ``url`` or of onion ``service``."""
    from evidence.registry import CAPTURE
    from evidence.sealedlog import SealedLog

    if (url is None) == (service is None):
        raise ValueError("give exactly one of url or service")
    path = capture_log_path(data_dir)
    selection = CaptureSelection(path)
    host = _host(service) if service is not None else None
    files: dict[str, dict[str, Any]] = {}
    for record in SealedLog(path, CAPTURE).records():
        data = record.get("data") or {}
        kind = data.get("type")
        if kind == "warc_file":
            files[str(data.get("name"))] = record
        elif kind == "page_capture" and (data.get("url") == url if url is not None
                                         else data.get("host") == host):
            selection.page_records.append(record)
    wanted: list[str] = []
    for record in selection.page_records:
        for rec in record["data"].get("records", []):
            name = str(rec["warc"])
            if name not in wanted:
                wanted.append(name)
            selection.ranges.append(ByteRange(warc_dir(data_dir) / name, int(rec["offset"]),
                                              int(rec["length"]), str(rec["id"]),
                                              str(rec["type"])))
    for name in wanted:
        if name in files:
            selection.file_records.append(files[name])
        else:
            selection.unsealed.append(name)
    return selection


def write_warc(selection: CaptureSelection, out: Path) -> str:
    """Write the selected records as one ``.warc.gz``; returns its SHA-256 (hex)."""
    digest = hashlib.sha256()
    with out.open("xb") as sink:
        for byte_range in selection.ranges:
            with byte_range.path.open("rb") as fh:
                fh.seek(byte_range.offset)
                chunk = fh.read(byte_range.length)
            if len(chunk) != byte_range.length:
                raise OSError(f"{byte_range.path}: record {byte_range.record_id} at "
                              f"{byte_range.offset} is cut ({len(chunk)} of "
                              f"{byte_range.length} bytes)")
            sink.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()
