"""Turn a hash-list file into flagged values: membership store entries and ``hash`` documents.

Every bad line is reported as ``FILE:LINE: what is wrong`` and the good lines are still
imported. An entry may stand for several values (a hybrid magnet link flags both its v1 and
its v2 infohash), whatever the format: the hash type says (``HashType.normalize_each``).
Re-importing the same file changes nothing: only new or changed values reach the
membership store and the spool, and document ids are deterministic. The file is streamed
and stored in batches, so memory stays bounded whatever its size; a line or entry longer
than ``max_document_bytes`` (setting ``index.max_document_bytes``) is reported and skipped.

List settings (:mod:`index.hashsets.lists`: kind, source, trust, distance, state) come from
the caller and, in plain and CSV lists, from ``#! setting: value`` lines at the top of the
file, in VICS files from the ``"heroes.list"`` object our exports write; the caller's win.
They are stored before the first value, so that a negative list's values never flag, not
even for a moment; a bad one is a problem of its line. When the list's kind or state
changes, every ``hash`` document of the list is written again (they carry both).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from config.sections.index import IndexSettings
from documents import Document, FlaggedHash, iso, utcnow
from documents.reader import CUT_SHORT, UnreadableInput
from documents.reader import read_lines as read_raw_lines
from identifiers.vpdq import frames_of
from index.hashsets.csv_format import read_csv
from index.hashsets.errors import BadValue, HashSetError, UnknownHashType, UnreadableFile
from index.hashsets.export import SETTINGS_KEY, file_settings
from index.hashsets.lines import read_lines
from index.hashsets.lists import ListInfo, ListSettingError, take_directives
from index.hashsets.membership import Entry, MembershipStore
from index.hashsets.registry import HASH_TYPES, HashTypeRegistry
from index.hashsets.rows import LineProblem, RawValue
from index.hashsets.vics import read_vics
from index.hashsets.vpdq_format import read_vpdq

FORMATS = ("vics", "csv", "lines", "vpdq")
DOC_BATCH = 10_000
# Entries stored per membership transaction: bounds memory, costs a transaction each.
ENTRY_BATCH = 250_000
MAX_DOCUMENT_BYTES: int = IndexSettings.model_fields["max_document_bytes"].default


@dataclass
class ImportReport:
    file: str
    list: str
    read: int = 0  # values read, good or bad
    imported: int = 0  # new or changed values
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)  # unless they went to ``on_problem``
    bad: int = 0  # problems found

    @property
    def good(self) -> int:
        """Values taken (new, changed or already there)."""
        return self.imported + self.unchanged


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "vics"
    if suffix == ".csv":
        return "csv"
    if suffix == ".vpdq":
        return "vpdq"
    return "lines"


def import_file(
    path: Path,
    store: MembershipStore,
    append: Callable[[Iterable[Document]], int],
    *,
    list_name: str = "",
    fmt: str = "",
    type_name: str = "",
    category: str = "",
    now: datetime | None = None,
    registry: HashTypeRegistry = HASH_TYPES,
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
    on_problem: Callable[[str], None] | None = None,
    list_settings: dict[str, Any] | None = None,
    read_rows: Iterable[RawValue | LineProblem] | None = None,
) -> ImportReport:
    """Import one file into ``list_name`` (default: the file's stem); ``append`` spools documents.

    Each problem (``FILE:LINE: what``) goes to ``on_problem`` as it is found, or, without
    one, into ``report.problems``; ``report.bad`` counts them either way.

    ``list_settings``: parsed list settings (:func:`index.hashsets.lists.parse_settings`).
    ``read_rows``: the file's rows as the caller read them, for a format read outside this
    package (MISP events, STIX bundles: :mod:`exchange`); ``fmt`` then only names it.

    Raises :class:`UnreadableFile` when the file cannot be read at all (missing, UTF-16,
    no usable CSV header or VICS object) and :class:`UnknownHashType` for a bad ``type_name``.
    """
    fmt = fmt or guess_format(path)
    if read_rows is None and fmt not in FORMATS:
        raise HashSetError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if type_name:
        registry.get(type_name)
    report = ImportReport(str(path), list_name or path.stem)
    added_at = iso(now or utcnow())
    times: dict[str, datetime] = {}
    from_file: dict[str, Any] = {}
    settled = False
    if fmt == "vics":
        _vics_settings(path, from_file, report, on_problem)
    with _gc_paused(), _opened(path) as stream:
        rows = read_rows if read_rows is not None else _read(
            stream, path, fmt, type_name, category, registry, max_document_bytes, from_file
        )
        entries = _entries(rows, path, registry, report, added_at, on_problem)
        while (batch := list(islice(entries, ENTRY_BATCH))) or not settled:
            if not settled:
                settled = True
                wanted = {**from_file, **(list_settings or {})}
                before = store.list_info(report.list)
                if wanted:
                    store.set_list(report.list, **wanted)
                info = store.list_info(report.list)
                if (before.kind, before.state) != (info.kind, info.state):
                    refresh_documents(store, report.list, append)
                if not batch:
                    break
            changed = store.upsert(batch)
            report.imported += len(changed)
            report.unchanged += len(batch) - len(changed)
            for start in range(0, len(changed), DOC_BATCH):
                append([hash_document(e, times, info) for e in changed[start : start + DOC_BATCH]])
    return report


def _vics_settings(
    path: Path, found: dict[str, Any], report: ImportReport,
    on_problem: Callable[[str], None] | None,
) -> None:
    try:
        found.update(file_settings(path, "vics"))
    except ListSettingError as exc:  # the values are still imported, under defaults
        report.bad += 1
        (on_problem or report.problems.append)(f"{path}: {SETTINGS_KEY!r}: {exc}")


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc.strerror}") from exc
    with stream:
        yield stream


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # A million live entries make every full garbage collection walk them all, again and
    # again while the documents are built; they hold no cycles, so collect once at the end.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _entries(
    rows: Iterable[RawValue | LineProblem],
    path: Path,
    registry: HashTypeRegistry,
    report: ImportReport,
    added_at: str,
    on_problem: Callable[[str], None] | None,
) -> Iterator[Entry]:
    keep = on_problem or report.problems.append

    def problem(message: str) -> None:
        report.bad += 1
        keep(message)

    types: dict[str, Any] = {}
    for item in rows:
        if isinstance(item, LineProblem):
            problem(f"{path}:{item.line}: {item.message}")
            continue
        report.read += 1
        try:
            kind = item.type or registry.guess(item.value)
            hash_type = types.get(kind) or types.setdefault(kind, registry.get(kind))
            kind = hash_type.name
            values = hash_type.normalize_each(item.value)  # both infohashes of a hybrid magnet
        except (BadValue, UnknownHashType) as exc:
            problem(f"{path}:{item.line}: {exc}" + (CUT_SHORT if item.cut_short else ""))
            continue
        for value in values:
            yield Entry(report.list, kind, value, item.category, item.entry, added_at)


def _read(
    stream: BinaryIO,
    path: Path,
    fmt: str,
    type_name: str,
    category: str,
    registry: HashTypeRegistry,
    max_bytes: int,
    settings: dict[str, Any],
) -> Iterator[RawValue | LineProblem]:
    try:
        if fmt == "vics":
            yield from read_vics(stream, category=category, max_bytes=max_bytes)
            return
        lines = read_raw_lines(stream, max_bytes=max_bytes)
        if fmt in ("csv", "lines", "vpdq"):
            lines = take_directives(lines, settings)
        if fmt == "vpdq":  # one video per file, named by the file
            yield from read_vpdq(lines, entry=path.stem, category=category)
        elif fmt == "csv":
            yield from read_csv(
                lines, type_names=registry.names(), type_name=type_name, category=category
            )
        else:
            yield from read_lines(lines, type_name=type_name, category=category)
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnreadableFile, UnreadableInput) as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise UnreadableFile(f"{where}: {exc.message}") from exc


def hash_document(
    entry: Entry, times: dict[str, datetime] | None = None, info: ListInfo | None = None
) -> FlaggedHash:
    """The ``hash`` document of one entry; ``info``: its list's settings (defaults if None)."""
    # Every field was validated on the way in (normalised value, known type): building the
    # documents of a big list without validating each again saves a good part of the import.
    times = {} if times is None else times
    added_at = times.get(entry.added_at)
    if added_at is None:
        added_at = times[entry.added_at] = datetime.fromisoformat(entry.added_at)
    info = info or ListInfo(entry.list)
    value, frames, duration = entry.value, None, None
    if entry.type == "vpdq":  # a long video's frames exceed the index's term limit
        value = "sha256:" + hashlib.sha256(entry.value.encode()).hexdigest()
        times_s = [f.t for f in frames_of(entry.value)]
        frames, duration = len(times_s), max(times_s, default=0.0)
    return FlaggedHash.model_construct(
        value=value,
        type=entry.type,
        category=entry.category,
        list=entry.list,
        source_id=entry.entry,
        added_at=added_at,
        list_kind=info.kind,
        list_state=info.state,
        frames=frames,
        duration_s=duration,
        flagged=False,
        matches=[],
    )


def refresh_documents(
    store: MembershipStore, name: str, append: Callable[[Iterable[Document]], int]
) -> int:
    """Spool again the ``hash`` documents of list ``name`` (after its kind or state changed)."""
    info = store.list_info(name)
    times: dict[str, datetime] = {}
    types = {row.type for row in store.lists() if row.list == name}
    docs = [hash_document(e, times, info)
            for t in sorted(types) for e in store.entries_of_type(t) if e.list == name]
    for start in range(0, len(docs), DOC_BATCH):
        append(docs[start : start + DOC_BATCH])
    return len(docs)


def removed_documents(entries: Iterable[Entry]) -> list[tuple[str, str]]:
    """(kind, id) of the ``hash`` documents of removed entries."""
    return [(FlaggedHash.KIND, hash_document(e).id) for e in entries]
