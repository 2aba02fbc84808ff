"""Turn a hash-list file into flagged values: membership store entries and ``hash`` documents.

Every bad line is reported as ``FILE:LINE: what is wrong`` and the good lines are still
imported. Re-importing the same file changes nothing: only new or changed values reach
the membership store and the spool, and document ids are deterministic.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from index.documents import Document, FlaggedHash, iso, utcnow
from index.hashsets.csv_format import read_csv
from index.hashsets.errors import BadValue, HashSetError, UnknownHashType, UnreadableFile
from index.hashsets.lines import read_lines
from index.hashsets.membership import Entry, MembershipStore
from index.hashsets.registry import HASH_TYPES, HashTypeRegistry
from index.hashsets.rows import LineProblem, RawValue
from index.hashsets.types import HashType
from index.hashsets.vics import read_vics

FORMATS = ("vics", "csv", "lines")
DOC_BATCH = 10_000


@dataclass
class ImportReport:
    file: str
    list: str
    read: int = 0  # values read, good or bad
    imported: int = 0  # new or changed values
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "vics"
    if suffix == ".csv":
        return "csv"
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
) -> ImportReport:
    """Import one file into ``list_name`` (default: the file's stem); ``append`` spools documents.

    Raises :class:`UnreadableFile` when the file cannot be read at all and
    :class:`UnknownHashType` for a bad ``type_name``.
    """
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise HashSetError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if type_name:
        registry.get(type_name)
    report = ImportReport(str(path), list_name or path.stem)
    added_at = iso(now or utcnow())
    with _gc_paused():
        entries = list(_entries(path, fmt, type_name, category, registry, report, added_at))
        changed = store.upsert(entries)
        report.imported = len(changed)
        report.unchanged = len(entries) - len(changed)
        times: dict[str, datetime] = {}
        for start in range(0, len(changed), DOC_BATCH):
            append([_document(e, times) for e in changed[start : start + DOC_BATCH]])
    return report


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
    path: Path,
    fmt: str,
    type_name: str,
    category: str,
    registry: HashTypeRegistry,
    report: ImportReport,
    added_at: str,
) -> Iterator[Entry]:
    types: dict[str, HashType] = {}
    for item in _read(path, fmt, type_name, category, registry):
        if isinstance(item, LineProblem):
            report.problems.append(f"{path}:{item.line}: {item.message}")
            continue
        report.read += 1
        try:
            kind = item.type or registry.guess(item.value)
            hash_type = types.get(kind) or types.setdefault(kind, registry.get(kind))
            kind = hash_type.name
            value = hash_type.normalize(item.value)
        except (BadValue, UnknownHashType) as exc:
            report.problems.append(f"{path}:{item.line}: {exc}")
            continue
        yield Entry(report.list, kind, value, item.category, item.entry, added_at)


def _read(
    path: Path, fmt: str, type_name: str, category: str, registry: HashTypeRegistry
) -> Iterator[RawValue | LineProblem]:
    try:
        if fmt == "vics":
            yield from read_vics(path.read_text(encoding="utf-8"), category=category)
            return
        with path.open("r", encoding="utf-8", newline="") as stream:
            if fmt == "csv":
                yield from read_csv(
                    stream, type_names=registry.names(), type_name=type_name, category=category
                )
            else:
                yield from read_lines(stream, type_name=type_name, category=category)
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except UnreadableFile as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise UnreadableFile(f"{where}: {exc.message}") from exc


def _document(entry: Entry, times: dict[str, datetime] | None = None) -> FlaggedHash:
    # Every field was validated on the way in (normalised value, known type): building the
    # documents of a big list without validating each again saves a good part of the import.
    times = {} if times is None else times
    added_at = times.get(entry.added_at)
    if added_at is None:
        added_at = times[entry.added_at] = datetime.fromisoformat(entry.added_at)
    return FlaggedHash.model_construct(
        value=entry.value,
        type=entry.type,
        category=entry.category,
        list=entry.list,
        source_id=entry.entry,
        added_at=added_at,
        flagged=False,
        matches=[],
    )


def removed_documents(entries: Iterable[Entry]) -> list[tuple[str, str]]:
    """(kind, id) of the ``hash`` documents of removed entries."""
    return [(FlaggedHash.KIND, _document(e).id) for e in entries]
