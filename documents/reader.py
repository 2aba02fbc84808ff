"""Read input files as numbered lines, with bounded memory: the one reader of every format.

``read_lines`` reads a binary stream chunk by chunk and yields each line as a
:class:`Line` (decoded, without its newline) or, for a line that cannot be taken, a
:class:`LineProblem` saying why, and goes on with the next line. A line that is not
UTF-8 is reported with the offending bytes (never replaced); a line longer than
``max_bytes`` is reported with its size and its bytes are skipped, never held. A UTF-8
byte-order mark at the start is dropped; a UTF-16 or UTF-32 one makes the whole file
:class:`UnreadableInput`. ``read_json_lines`` parses each line with
:mod:`documents.strictjson`. Callers pass ``max_bytes`` from the setting
``index.max_document_bytes``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from documents.strictjson import JsonRefused, loads
from errors import HeroesError

SIZE_SETTING = "index.max_document_bytes"
UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
CHUNK = 1 << 20
CUT_SHORT = " (the file ends in this line without a newline: it may be cut short)"


class UnreadableInput(HeroesError):
    """The file cannot be read at all; ``line`` is where that shows, when known."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(message if line is None else f"{line}: {message}")


@dataclass(slots=True)  # not frozen: a million lines are made twice as fast
class Line:
    number: int
    text: str  # without the "\n" (a "\r" of a "\r\n" ending stays)
    unterminated: bool = False  # the last line, without a newline: perhaps cut short


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class JsonLine:
    number: int
    value: Any


def too_big(size: int, max_bytes: int, what: str = "line") -> str:
    return (
        f"the {what} is {size:,} bytes, more than the {max_bytes:,} a document may have "
        f"(setting {SIZE_SETTING})"
    )


def not_utf8(raw: bytes, start: int, end: int) -> str:
    line_start = raw.rfind(b"\n", 0, start) + 1
    column = len(raw[line_start:start].decode("utf-8", "replace")) + 1
    return f"not UTF-8 text: byte {raw[start:end]!r} at column {column}"


def without_bom(start: bytes) -> bytes:
    """The first bytes of a file without a UTF-8 byte-order mark; UnreadableInput for others."""
    if start.startswith(UTF8_BOM):
        return start[len(UTF8_BOM) :]
    if start.startswith(_OTHER_BOMS):
        raise UnreadableInput(
            "the file is UTF-16 or UTF-32 (it starts with their byte-order mark); "
            "save it as UTF-8",
            1,
        )
    return start


def read_lines(stream: BinaryIO, *, max_bytes: int) -> Iterator[Line | LineProblem]:
    """Every line of ``stream``, numbered from 1; raises UnreadableInput for a UTF-16/32 file."""
    number = 0
    pending = b""  # the start of a line that the last chunk cut off
    skipping = -1  # while skipping an over-long line: its bytes so far
    first = True
    while True:
        chunk = stream.read(max(CHUNK, 4) if first else CHUNK)  # a whole byte-order mark
        if first:
            chunk, first = without_bom(chunk), False
        if not chunk:
            break
        if skipping >= 0:
            cut = chunk.find(b"\n")
            if cut < 0:
                skipping += len(chunk)
                continue
            number += 1
            yield LineProblem(number, too_big(skipping + cut, max_bytes))
            skipping, chunk = -1, chunk[cut + 1 :]
        block = pending + chunk if pending else chunk
        end = block.rfind(b"\n") + 1
        pending = block[end:]
        if len(pending) > max_bytes:
            skipping, pending = len(pending), b""
        if end:
            number = yield from _lines_of(block[:end], number, max_bytes)
    if skipping >= 0:
        yield LineProblem(number + 1, too_big(skipping, max_bytes))
    elif pending:
        yield from _lines_of(pending + b"\n", number, max_bytes, last_unterminated=True)


def _lines_of(
    block: bytes, number: int, max_bytes: int, last_unterminated: bool = False
) -> Generator[Line | LineProblem, None, int]:
    """The lines of ``block`` (which ends with a newline) from line ``number + 1`` on."""
    if len(block) <= max_bytes and not last_unterminated:
        # No line can be too long: decode the block at once, the common case.
        try:
            texts = block.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            pass
        else:
            texts.pop()
            for text in texts:
                number += 1
                yield Line(number, text)
            return number
    raws = block.split(b"\n")
    raws.pop()
    for raw in raws:
        number += 1
        if len(raw) > max_bytes:
            yield LineProblem(number, too_big(len(raw), max_bytes))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield LineProblem(number, not_utf8(raw, exc.start, exc.end))
            continue
        yield Line(number, text, last_unterminated)
    return number


def read_json_lines(
    lines: Iterable[Line | LineProblem],
) -> Iterator[JsonLine | LineProblem]:
    """One JSON value per non-blank line, parsed strictly; each refusal names its column."""
    for item in lines:
        if isinstance(item, LineProblem):
            yield item
            continue
        text = item.text.strip()
        if not text:
            continue
        try:
            yield JsonLine(item.number, loads(text))
        except JsonRefused as exc:
            message = exc.message
            if exc.pos is not None:
                lead = len(item.text) - len(item.text.lstrip())
                message += f" at column {lead + exc.pos + 1}"
            yield LineProblem(item.number, message + (CUT_SHORT if item.unterminated else ""))
