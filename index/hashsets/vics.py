"""Project VIC / VICS JSON: an OData object whose ``value`` array lists media entries.

Each entry may carry ``MD5``, ``SHA1`` (and ``SHA256``) at the top level and a nested
``Hashes`` array of ``{"HashName": ..., "HashValue": ...}``; ``MediaID`` is the entry id
and ``Category`` the category. Hash names we do not match on (PhotoDNA, ...) are
skipped silently: they are not errors in the list. The array is read entry by entry so
that each problem names the line where its entry starts, and a syntax error inside one
entry costs only that entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from index.hashsets.errors import UnreadableFile
from index.hashsets.rows import LineProblem, RawValue

_DECODER = json.JSONDecoder()
_WS = re.compile(r"\s*")
_NEXT_ENTRY = re.compile(r"\}\s*,\s*(?=\{)")
ARRAY_KEYS = ("value", "Media", "media")
# VICS hash names we match on, by our type name.
HASH_NAMES = {
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "sha-1": "sha1",
    "sha-256": "sha256",
    "pdq": "pdq",
}


def read_vics(text: str, *, category: str = "") -> Iterator[RawValue | LineProblem]:
    lines = _LineIndex(text)
    start = _array_start(text)
    pos = _skip(text, start + 1)
    if pos < len(text) and text[pos] == "]":
        return
    while pos < len(text):
        line = lines.at(pos)
        try:
            entry, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield LineProblem(
                lines.at(exc.pos), f"broken JSON in the entry starting on line {line}: {exc.msg}"
            )
            found = _NEXT_ENTRY.search(text, exc.pos)
            if not found:
                return
            pos = found.end()
            continue
        yield from _entry_values(entry, line, category)
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif pos < len(text) and text[pos] == "]":
            return
        else:
            yield LineProblem(lines.at(pos), "expected ',' or ']' after an entry")
            return


def _entry_values(entry: Any, line: int, default_category: str) -> Iterator[RawValue | LineProblem]:
    if not isinstance(entry, dict):
        yield LineProblem(line, f"entry is not a JSON object: {entry!r:.60}")
        return
    entry_id = _text(entry.get("MediaID", entry.get("MediaId", entry.get("ID", ""))))
    category = _text(entry.get("Category", "")) or default_category
    found: list[tuple[str, str]] = []
    for key, type_name in (("MD5", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256")):
        if entry.get(key):
            found.append((type_name, _text(entry[key])))
    hashes = entry.get("Hashes", [])
    if not isinstance(hashes, list):
        yield LineProblem(line, f"MediaID {entry_id!r}: Hashes is not a list")
        hashes = []
    for item in hashes:
        if not isinstance(item, dict) or "HashName" not in item or "HashValue" not in item:
            yield LineProblem(
                line, f"MediaID {entry_id!r}: Hashes item without HashName/HashValue: {item!r:.60}"
            )
            continue
        type_name = HASH_NAMES.get(str(item["HashName"]).strip().lower())
        if type_name:
            found.append((type_name, _text(item["HashValue"])))
    if not found and not hashes:
        yield LineProblem(line, f"MediaID {entry_id!r}: no MD5, SHA1, SHA256 or PDQ")
        return
    for type_name, value in dict.fromkeys(found):
        yield RawValue(line, type_name, value, category, entry_id)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _skip(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _array_start(text: str) -> int:
    """Offset of the ``[`` opening the entries, reading only the top-level object's keys."""
    pos = _skip(text, 0)
    if text[pos : pos + 1] == "[":
        return pos  # a bare array of entries
    if text[pos : pos + 1] != "{":
        raise UnreadableFile("expected a JSON object with a 'value' array", 1)
    pos = _skip(text, pos + 1)
    while pos < len(text) and text[pos] != "}":
        try:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text[pos : pos + 1] != ":":
                raise json.JSONDecodeError("expected ':'", text, pos)
            pos = _skip(text, pos + 1)
            if key in ARRAY_KEYS and text[pos : pos + 1] == "[":
                return pos
            _, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise UnreadableFile(exc.msg, _LineIndex(text).at(exc.pos)) from exc
        pos = _skip(text, pos)
        if text[pos : pos + 1] == ",":
            pos = _skip(text, pos + 1)
    raise UnreadableFile("no 'value' array of media entries in the top-level object")


class _LineIndex:
    """Line numbers of offsets, computed incrementally (offsets only grow while reading)."""

    def __init__(self, text: str):
        self._text = text
        self._pos = 0
        self._line = 1

    def at(self, pos: int) -> int:
        if pos < self._pos:
            return self._text.count("\n", 0, pos) + 1
        self._line += self._text.count("\n", self._pos, pos)
        self._pos = pos
        return self._line
