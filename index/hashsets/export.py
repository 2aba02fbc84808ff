"""Write a hash list out as VICS JSON or CSV, in forms the importer reads back unchanged.

Both carry every value with its type, category and entry id, and the list's settings
(kind, source, trust, distance, state) and its precision from analysts' decisions (confirmed,
false positive): VICS as a top-level ``"heroes.list"`` object written before the ``value``
array (VICS readers skip keys they do not know), CSV as the importer's ``#! setting: value``
lines above the header (:mod:`index.hashsets.lists`) and the precision counts as
``list_*`` columns, which CSV readers ignore. :func:`file_settings` reads the settings back
(the importer applies CSV ones itself), so that import -> export -> import loses nothing.

VICS media entries group the values of one entry id and category (MD5, SHA1 and SHA256 at
the top level, the others in ``Hashes``); VICS has no place for non-media types
(infohash, wallets, keywords, ...): those are left out, counted, and named in the report,
never silently. No settings.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from index.hashsets.errors import HashSetError, UnreadableFile
from index.hashsets.feedback import Precision
from index.hashsets.lists import SETTING_NAMES, ListInfo, parse_directive, parse_setting
from index.hashsets.membership import Entry, MembershipStore

EXPORT_FORMATS = ("vics", "csv")
SETTINGS_KEY = "heroes.list"
CSV_COLUMNS = ("value", "type", "category", "id")
CSV_PRECISION_COLUMNS = ("list_confirmed", "list_false_positive")
# VICS names by our type: the first value of each of these goes to the entry's top level.
VICS_TOP = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256"}
VICS_HASHES = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "pdq": "PDQ", "vpdq": "vPDQ"}
# A category that reads back as the same text when written as a JSON number.
_NUMBER = re.compile(r"0|[1-9][0-9]{0,8}")
# How far into a file its settings may be looked for (they are written first).
SETTINGS_HEAD = 1 << 16


@dataclass
class ExportReport:
    list: str
    format: str
    written: int = 0  # values written
    left_out: dict[str, int] = field(default_factory=dict)  # type -> values VICS cannot carry


def list_entries(members: MembershipStore, name: str) -> list[Entry]:
    """Every entry of list ``name``, ordered by entry id, type and value."""
    types = [row.type for row in members.lists() if row.list == name]
    found = [e for t in types for e in members.entries_of_type(t) if e.list == name]
    return sorted(found, key=lambda e: (e.entry, e.type, e.value))


def export_list(
    members: MembershipStore,
    name: str,
    fmt: str,
    out: TextIO,
    *,
    precision: Precision | None = None,
) -> ExportReport:
    """Write list ``name`` to ``out``; HashSetError when it has no values or ``fmt`` is unknown."""
    if fmt not in EXPORT_FORMATS:
        raise HashSetError(f"unknown export format {fmt!r}; expected one of vics, csv")
    entries = list_entries(members, name)
    if not entries:
        raise HashSetError(f"no list named {name!r} (or it has no values)")
    info = members.list_info(name)
    report = ExportReport(name, fmt)
    if fmt == "vics":
        _write_vics(entries, info, precision, out, report)
    else:
        _write_csv(entries, info, precision, out, report)
    return report


def _settings_of(info: ListInfo, precision: Precision | None) -> dict[str, Any]:
    data: dict[str, Any] = {"name": info.name}
    data.update({name: getattr(info, name) for name in SETTING_NAMES})
    if precision is not None:
        data["precision"] = precision.to_dict()
    return data


def _vics_media(entries: Iterable[Entry], report: ExportReport) -> Iterator[dict[str, Any]]:
    groups: dict[tuple[str, str, int], list[Entry]] = {}
    for n, e in enumerate(entries):
        # Values without an entry id stay one media entry each: grouping would invent one.
        groups.setdefault((e.entry, e.category, n if not e.entry else -1), []).append(e)
    for (entry_id, category, _), group in groups.items():
        media: dict[str, Any] = {}
        if entry_id:
            media["MediaID"] = entry_id
        if category:
            # VICS categories are numbers; ours are their text (or a name of the list's own).
            media["Category"] = int(category) if _NUMBER.fullmatch(category) else category
        hashes: list[dict[str, str]] = []
        for e in group:
            if e.type not in VICS_HASHES:
                report.left_out[e.type] = report.left_out.get(e.type, 0) + 1
                continue
            top = VICS_TOP.get(e.type)
            if top and top not in media:
                media[top] = e.value
            else:
                hashes.append({"HashName": VICS_HASHES[e.type], "HashValue": e.value})
            report.written += 1
        if hashes:
            media["Hashes"] = hashes
        if any(k in media for k in (*VICS_TOP.values(), "Hashes")):
            yield media


def _write_vics(
    entries: list[Entry], info: ListInfo, precision: Precision | None, out: TextIO,
    report: ExportReport,
) -> None:
    # Written entry by entry (a list may hold millions); the settings come before the array.
    out.write("{\n")
    out.write(f'  "odata.metadata": {json.dumps("heroes hash list export (VICS media)")},\n')
    out.write(f"  {json.dumps(SETTINGS_KEY)}: {json.dumps(_settings_of(info, precision))},\n")
    out.write('  "value": [')
    for n, media in enumerate(_vics_media(entries, report)):
        out.write(("," if n else "") + "\n    " + json.dumps(media, ensure_ascii=False))
    out.write("\n  ]\n}\n")


def _write_csv(
    entries: list[Entry], info: ListInfo, precision: Precision | None, out: TextIO,
    report: ExportReport,
) -> None:
    for name in SETTING_NAMES:
        value = getattr(info, name)
        out.write(f"#! {name}: {'default' if value is None else value}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*CSV_COLUMNS, *CSV_PRECISION_COLUMNS))
    counts = [str(precision.confirmed), str(precision.false_positive)] if precision else ["", ""]
    for e in entries:
        writer.writerow((e.value, e.type, e.category, e.entry, *counts))
        report.written += 1


def file_settings(path: Path, fmt: str) -> dict[str, Any]:
    """The list settings an export wrote into ``path`` (none for other files), parsed.

    ListSettingError (from :mod:`index.hashsets.lists`) names a bad one; UnreadableFile when
    the file cannot be read.
    """
    try:
        with path.open("rb") as stream:
            head = stream.read(SETTINGS_HEAD).decode("utf-8", "replace")
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc.strerror}") from exc
    settings: dict[str, Any] = {}
    if fmt == "csv":
        for line in head.splitlines():
            directive = parse_directive(line.strip())
            if directive is None:
                break
            settings[directive[0]] = directive[1]
        return settings
    key = re.search(r'"' + re.escape(SETTINGS_KEY) + r'"\s*:\s*', head) if fmt == "vics" else None
    if key is None:
        return settings
    try:
        value, _ = json.JSONDecoder().raw_decode(head, key.end())
    except ValueError as exc:
        line = head.count("\n", 0, key.start()) + 1
        raise UnreadableFile(f"{path}:{line}: broken {SETTINGS_KEY!r} object") from exc
    if isinstance(value, dict):
        settings = {k: parse_setting(k, value[k]) for k in SETTING_NAMES if k in value}
    return settings
