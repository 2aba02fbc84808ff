"""Find the line of a key path in a TOML text, so errors can say FILE:LINE."""

from __future__ import annotations

import re
from collections.abc import Sequence

_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-" ]+?)\s*=""")


def _split(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in dotted.split(".")]


def index_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map every table and key path (array-of-table entries by index) to its 1-based line."""
    lines: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str, ...], int] = {}
    prefix: tuple[str | int, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        if m := _ARRAY_TABLE.match(raw):
            path = tuple(_split(m.group(1)))
            i = counts.get(path, 0)
            counts[path] = i + 1
            prefix = (*path, i)
            lines.setdefault(path, number)
            lines[prefix] = number
        elif m := _TABLE.match(raw):
            prefix = tuple(_split(m.group(1)))
            lines.setdefault(prefix, number)
        elif (m := _KEY.match(raw)) and not raw.lstrip().startswith("#"):
            lines.setdefault((*prefix, *_split(m.group(1))), number)
    return lines


def line_of(lines: dict[tuple[str | int, ...], int], loc: Sequence[str | int]) -> int | None:
    """The line of the longest prefix of ``loc`` that the file names."""
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None
