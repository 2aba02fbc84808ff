"""Plain lists: one value per line; blank lines and ``#`` comments are skipped.

The type comes from the caller (``--type``) or, when the value's form is unambiguous
(magnet link, eth, email, btc, xmr, 32 hex digits = md5), from the value itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

from index.hashsets.rows import LineProblem, RawValue


def read_lines(
    stream: TextIO, *, type_name: str = "", category: str = ""
) -> Iterator[RawValue | LineProblem]:
    for number, line in enumerate(stream, start=1):
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        yield RawValue(number, type_name, value, category, "")
