"""Project VIC / VICS JSON: an OData object whose ``value`` array lists media entries.

Each entry may carry ``MD5``, ``SHA1`` (and ``SHA256``) at the top level and a nested
``Hashes`` array of ``{"HashName": ..., "HashValue": ...}``; ``MediaID`` is the entry id
and ``Category`` the category. A video's entry carries its vPDQ hash as a ``Hashes`` item
named ``vPDQ`` (any case), its value in any spelling :mod:`identifiers.vpdq` accepts (the
text, or the JSON array of frames itself); it imports as a ``vpdq`` entry. Hash names we
do not match on (PhotoDNA, ...) are skipped silently: they are not errors in the list.

The file is streamed: a window of the bytes is scanned for the extent of one entry at a
time (brackets counted outside strings), and only that entry is decoded and parsed, with
:mod:`documents.strictjson`. Memory stays within a read chunk plus one entry whatever the
size of the file. Each problem names the line where its entry starts; a bad entry (broken
JSON, not UTF-8, too big, too deep, a duplicate key, a huge integer, a lone surrogate)
costs only that entry. An entry longer than ``max_bytes`` (setting
``index.max_document_bytes``) is skipped without being held.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from documents.reader import not_utf8, too_big, without_bom
from documents.strictjson import MAX_DEPTH, JsonRefused, loads
from index.hashsets.errors import UnreadableFile
from index.hashsets.rows import LineProblem, RawValue

ARRAY_KEYS = ("value", "Media", "media")
# VICS hash names we match on, by our type name.
HASH_NAMES = {
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "sha-1": "sha1",
    "sha-256": "sha256",
    "pdq": "pdq",
    "vpdq": "vpdq",
}
CHUNK = 1 << 20
HEAD_KEY_MAX = 1 << 16

_WS = re.compile(rb"[ \t\r\n]*")
# At the top level: up to the next quote, bracket or ',' (a string there is a whole value).
_PLAIN_TOP = re.compile(rb'[^"{}\[\],]*')
# Inside a container: whole strings and everything else up to the next bracket, or up to
# the quote of a string the window cuts off.
_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_PLAIN_INNER = re.compile(rb'(?:[^"{}\[\]]+|' + _STRING + rb")*", re.S)
# Inside a string: up to its closing quote; stops before a backslash the window cuts off.
_IN_STRING = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)
_RESYNC = re.compile(rb"[{\]]")
_QUOTE, _OPEN, _CLOSE, _COMMA = ord('"'), b"[{", b"]}", ord(",")


class _Window:
    """The bytes of the stream from offset ``base`` on, read chunk by chunk, with line numbers."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.data = b""
        self.base = 0  # stream offset of data[0]
        self.eof = False
        self._line_pos = 0  # stream offset whose line is _line
        self._line = 1

    def fill(self) -> bool:
        """Read one more chunk; False at the end of the stream."""
        if self.eof:
            return False
        start = self.base == 0 and not self.data
        chunk = self._stream.read(max(CHUNK, 4) if start else CHUNK)  # a whole byte-order mark
        if not chunk:
            self.eof = True
            return False
        if start:
            start = without_bom(chunk)
            self.base = self._line_pos = len(chunk) - len(start)
            chunk = start
        self.data += chunk
        return True

    def release(self, pos: int) -> None:
        """Forget the bytes before stream offset ``pos`` (they will not be asked for again)."""
        if pos - self.base > CHUNK:
            self._advance_line(pos)
            self.data = self.data[pos - self.base :]
            self.base = pos

    def byte(self, pos: int) -> int | None:
        """The byte at ``pos``, reading on as needed; None at the end of the stream."""
        while pos - self.base >= len(self.data):
            if not self.fill():
                return None
        return self.data[pos - self.base]

    def skip_ws(self, pos: int) -> int:
        while True:
            end = _WS.match(self.data, pos - self.base).end() + self.base
            if end - self.base < len(self.data) or not self.fill():
                return end
            pos = end

    def slice(self, start: int, end: int) -> bytes:
        return self.data[start - self.base : end - self.base]

    def line(self, pos: int) -> int:
        """Line number of stream offset ``pos``; offsets asked for only grow, roughly."""
        if pos < self._line_pos:
            return self._line - self.data.count(b"\n", pos - self.base, self._line_pos - self.base)
        self._advance_line(pos)
        return self._line

    def _advance_line(self, pos: int) -> None:
        if pos > self._line_pos:
            self._line += self.data.count(b"\n", self._line_pos - self.base, pos - self.base)
            self._line_pos = pos


@dataclass(frozen=True, slots=True)
class _Extent:
    end: int | None  # stream offset just past the value; None: the stream ended inside it
    deepest: int
    oversize: bool  # longer than the limit: its bytes were not kept


def _extent(win: _Window, pos: int, max_bytes: int) -> _Extent:
    """Where the JSON value starting at ``pos`` ends, found by counting brackets."""
    depth = deepest = 0
    in_string = False
    oversize = False
    i = pos
    while True:
        data, base = win.data, win.base
        j = i - base
        if in_string:
            j = _IN_STRING.match(data, j).end()
            if j < len(data) and data[j] == _QUOTE:
                in_string = False
                i = base + j + 1
                if depth == 0:
                    return _Extent(i, deepest, oversize)
                continue
        else:
            j = (_PLAIN_INNER if depth else _PLAIN_TOP).match(data, j).end()
            if j < len(data):
                c = data[j]
                if c == _QUOTE:
                    in_string = True
                elif c in _OPEN:
                    depth += 1
                    deepest = max(deepest, depth)
                elif depth == 0:  # ',' ']' or '}' after a scalar at the top level
                    return _Extent(base + j, deepest, oversize)
                else:
                    depth -= 1
                    if depth == 0:
                        return _Extent(base + j + 1, deepest, oversize)
                i = base + j + 1
                continue
        i = base + j
        if i - pos > max_bytes:
            oversize = True
            win.release(i)
        if not win.fill():
            return _Extent(None, deepest, oversize)


def read_vics(
    stream: BinaryIO, *, category: str = "", max_bytes: int
) -> Iterator[RawValue | LineProblem]:
    win = _Window(stream)
    pos = _array_start(win)
    pos = win.skip_ws(pos + 1)
    if win.byte(pos) == ord("]"):
        return
    while True:
        pos = win.skip_ws(pos)
        first = win.byte(pos)
        if first is None:
            yield LineProblem(
                win.line(pos), "the file ends before the list of entries is closed with ']': "
                "it may be cut short"
            )
            return
        line = win.line(pos)
        extent = _extent(win, pos, max_bytes)
        if extent.end is None:
            yield LineProblem(line, "the entry is cut short: the file ends inside it")
            return
        end = extent.end
        if end == pos:  # a ',' or ']' where an entry should be
            yield LineProblem(line, f"expected an entry, found {bytes([first])!r}")
        elif extent.deepest > MAX_DEPTH:
            yield LineProblem(line, f"the entry is nested more than {MAX_DEPTH} levels deep")
        elif extent.oversize or end - pos > max_bytes:
            yield LineProblem(line, too_big(end - pos, max_bytes, "entry"))
        else:
            yield from _parsed(win, pos, end, line, category)
        pos = win.skip_ws(end)
        win.release(pos)
        after = win.byte(pos)
        if after == _COMMA:
            pos += 1
        elif after == ord("]"):
            return
        elif after is None:
            continue  # reported at the top of the loop
        else:
            yield LineProblem(
                win.line(pos),
                f"expected ',' or ']' after the entry starting on line {line}, "
                f"found {bytes([after])!r}",
            )
            found = _next_entry(win, pos)
            if found is None:
                return
            pos = found


def _next_entry(win: _Window, pos: int) -> int | None:
    """Offset of the next '{' (where reading resumes after garbage); None at ']' or the end."""
    while True:
        found = _RESYNC.search(win.data, pos - win.base)
        if found:
            return None if found.group() == b"]" else win.base + found.start()
        pos = win.base + len(win.data)
        win.release(pos)
        if not win.fill():
            return None


def _parsed(
    win: _Window, start: int, end: int, line: int, category: str
) -> Iterator[RawValue | LineProblem]:
    raw = win.slice(start, end)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = win.line(start + exc.start)
        yield LineProblem(at, not_utf8(raw, exc.start, exc.end) + _starting(at, line))
        return
    try:
        entry = loads(text)
    except JsonRefused as exc:
        at = line + (text.count("\n", 0, exc.pos) if exc.pos is not None else 0)
        message = exc.message.removeprefix("not JSON: ")
        if message != exc.message:
            yield LineProblem(at, f"broken JSON in the entry starting on line {line}: {message}")
        else:
            yield LineProblem(at, message + _starting(at, line))
        return
    yield from _entry_values(entry, line, category)


def _starting(at: int, line: int) -> str:
    return "" if at == line else f" (in the entry starting on line {line})"


def _entry_values(entry: Any, line: int, default_category: str) -> Iterator[RawValue | LineProblem]:
    if not isinstance(entry, dict):
        yield LineProblem(line, f"entry is not a JSON object: {entry!r:.60}")
        return
    entry_id = _text(entry.get("MediaID", entry.get("MediaId", entry.get("ID", ""))))
    category = _text(entry.get("Category", "")) or default_category
    found: list[tuple[str, str]] = []
    for key, type_name in (("MD5", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256")):
        value = entry.get(key)
        if value and not isinstance(value, str):
            yield LineProblem(line, f"MediaID {entry_id!r}: {key} is not a string: {value!r:.60}")
        elif value:
            found.append((type_name, value.strip()))
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
        if type_name == "vpdq" and isinstance(item["HashValue"], list):
            # A video's frames may come as the JSON array itself rather than its text.
            found.append((type_name, json.dumps(item["HashValue"])))
        elif type_name and not isinstance(item["HashValue"], str):
            yield LineProblem(
                line,
                f"MediaID {entry_id!r}: {item['HashName']} HashValue is not a string: "
                f"{item['HashValue']!r:.60}",
            )
        elif type_name:
            found.append((type_name, item["HashValue"].strip()))
    if not found and not hashes:
        yield LineProblem(line, f"MediaID {entry_id!r}: no MD5, SHA1, SHA256 or PDQ")
        return
    for type_name, value in dict.fromkeys(found):
        yield RawValue(line, type_name, value, category, entry_id)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _array_start(win: _Window) -> int:
    """Offset of the ``[`` opening the entries, reading only the top-level object's keys."""
    win.fill()  # drops a byte-order mark, which moves the start
    pos = win.skip_ws(win.base)
    first = win.byte(pos)
    if first == ord("["):
        return pos  # a bare array of entries
    if first != ord("{"):
        raise UnreadableFile("expected a JSON object with a 'value' array", win.line(pos))
    pos = win.skip_ws(pos + 1)
    while (c := win.byte(pos)) is not None and c != ord("}"):
        key = _head_value(win, pos)
        pos = win.skip_ws(key[1])
        if win.byte(pos) != ord(":"):
            raise UnreadableFile("expected ':' after a key of the top-level object", win.line(pos))
        pos = win.skip_ws(pos + 1)
        if key[0] in ARRAY_KEYS and win.byte(pos) == ord("["):
            return pos
        _, pos = _head_value(win, pos, keep=False)
        pos = win.skip_ws(pos)
        if win.byte(pos) == _COMMA:
            pos = win.skip_ws(pos + 1)
    raise UnreadableFile("no 'value' array of media entries in the top-level object")


def _head_value(win: _Window, pos: int, keep: bool = True) -> tuple[Any, int]:
    """A value of the top-level object (a key when ``keep``) and the offset after it."""
    extent = _extent(win, pos, HEAD_KEY_MAX if keep else 0)
    if extent.end is None or extent.end == pos:
        raise UnreadableFile("the top-level object is cut short or broken", win.line(pos))
    if keep and extent.oversize:
        raise UnreadableFile(
            f"a key of the top-level object is longer than {HEAD_KEY_MAX:,} bytes", win.line(pos)
        )
    if not keep:
        return None, extent.end
    raw = win.slice(pos, extent.end)
    try:
        return json.loads(raw.decode("utf-8")), extent.end
    except (UnicodeDecodeError, ValueError) as exc:
        message = f"broken key in the top-level object: {raw!r:.60}"
        raise UnreadableFile(message, win.line(pos)) from exc
