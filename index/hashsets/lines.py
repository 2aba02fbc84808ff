"""Plain lists: one value per line; blank lines and ``#`` comments are skipped.

The type comes from the caller (``--type``) or, when the value's form is unambiguous
(magnet link, eth, email, btc, xmr, 32 hex digits = md5), from the value itself. Lines
come from :func:`documents.reader.read_lines`, which reports the unreadable ones. A line is
one entry; the importer turns an entry into its values (both infohashes of a hybrid magnet).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from documents.reader import Line
from index.hashsets.rows import LineProblem, RawValue


def read_lines(
    lines: Iterable[Line | LineProblem], *, type_name: str = "", category: str = ""
) -> Iterator[RawValue | LineProblem]:
    for line in lines:
        if isinstance(line, LineProblem):
            yield line
            continue
        value = line.text.strip()
        if not value or value.startswith("#"):
            continue
        yield RawValue(line.number, type_name, value, category, "", line.unterminated)
