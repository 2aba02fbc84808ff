"""Import a MISP event or a STIX bundle into a hash list, through the hash-list import.

The file is read by :mod:`exchange.misp_import` or :mod:`exchange.stix_import` into rows
that :func:`index.hashsets.importer.import_file` stores like those of any list file: the
same membership store, ``hash`` documents, list settings and report. The list's
``source`` names the event or bundle id and the file (unless the caller gives one). Each
bad object is a problem ``FILE:LINE: object: what`` (the line where the object starts)
and every good one is imported. Raises :class:`UnreadableExchangeFile` (a hash-list
:class:`~index.hashsets.errors.UnreadableFile`) when the file is no MISP event or STIX
bundle at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from documents import Document
from exchange.reading import Rows, load_json, skipped_summary
from index.hashsets.importer import MAX_DOCUMENT_BYTES, ImportReport, import_file
from index.hashsets.lists import MAX_SOURCE
from index.hashsets.membership import MembershipStore

EXCHANGE_FORMATS = ("misp", "stix")


@dataclass
class ExchangeImport:
    report: ImportReport
    source: str  # what the list's source says: the event or bundle, and the file
    objects: int  # attributes, objects or STIX objects read
    skipped: dict[str, int]  # values of types no list holds, by type

    @property
    def skipped_text(self) -> str:
        return skipped_summary(Counter(self.skipped))


def source_of(fmt: str, path: Path, ids: list[str]) -> str:
    """The list source: ``MISP event <uuid> (file.json)``, cut to what a source may hold."""
    what = {"misp": "MISP event", "stix": "STIX bundle"}[fmt]
    named = ", ".join(i for i in ids if i) or "without id"
    if len(ids) > 1:
        what += "s"
    text = f"{what} {named} ({path.name})"
    return text if len(text) <= MAX_SOURCE else text[: MAX_SOURCE - 1] + "…"


def import_exchange(
    path: Path,
    fmt: str,
    members: MembershipStore,
    append: Callable[[Iterable[Document]], int],
    *,
    list_name: str = "",
    category: str = "",
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
    on_problem: Callable[[str], None] | None = None,
    list_settings: dict[str, Any] | None = None,
) -> ExchangeImport:
    """Import the MISP (``fmt`` "misp") or STIX ("stix") file at ``path`` into a list."""
    if fmt not in EXCHANGE_FORMATS:
        raise ValueError(f"unknown exchange format {fmt!r}")
    # The format libraries load here, not with the CLI: every command imports this module.
    from exchange.misp_import import events, read_events
    from exchange.stix_import import bundle_id, read_bundle

    source = load_json(path, "MISP event" if fmt == "misp" else "STIX bundle")
    rows = Rows(source, category)
    if fmt == "misp":
        ids = [str(e.get("uuid") or "") for e in events(source)]
        read = read_events(rows)
    else:
        ids = [bundle_id(source)]
        read = read_bundle(rows)
    origin = source_of(fmt, path, ids)
    report = import_file(
        path, members, append, list_name=list_name, fmt=fmt, category=category,
        max_document_bytes=max_document_bytes, on_problem=on_problem,
        list_settings={"source": origin, **(list_settings or {})}, read_rows=read)
    return ExchangeImport(report, origin, rows.objects, dict(rows.skipped))
