"""CSV lists with a header row naming the columns.

Recognised columns (case-insensitive): a hash type name (``md5``, ``sha1``, ``sha256``,
``pdq``, ``infohash``, ``btc``, ...) holding values of that type; or ``value`` with an
optional ``type`` column; ``category``; and an entry id in ``id``, ``entry``,
``media_id`` or ``mediaid``. A row may carry several typed columns; empty cells are skipped.
Lines come from :func:`documents.reader.read_lines`: a line it reports (not UTF-8, too
long) is a problem of its own and the rows around it are still read. A row is numbered by
the line it starts on (a quoted cell may span lines).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from documents.reader import CUT_SHORT, Line
from index.hashsets.errors import UnreadableFile
from index.hashsets.rows import LineProblem, RawValue

ENTRY_COLUMNS = ("id", "entry", "media_id", "mediaid", "entry_id")


class _Feed:
    """Hands the text of good lines to ``csv.reader``; keeps problems and line numbers aside."""

    def __init__(self, lines: Iterable[Line | LineProblem]):
        self._lines = iter(lines)
        self.problems: list[LineProblem] = []
        self.consumed: list[Line] = []

    def __iter__(self) -> Iterator[str]:
        for item in self._lines:
            if isinstance(item, LineProblem):
                self.problems.append(item)
                continue
            self.consumed.append(item)
            yield item.text + "\n"

    def take_problems(self) -> list[LineProblem]:
        taken, self.problems = self.problems, []
        return taken


def read_csv(
    lines: Iterable[Line | LineProblem],
    *,
    type_names: list[str],
    type_name: str = "",
    category: str = "",
) -> Iterator[RawValue | LineProblem]:
    feed = _Feed(lines)
    reader = csv.reader(feed)
    try:
        header = next(reader)
    except StopIteration:
        header = None
    except csv.Error as exc:
        raise UnreadableFile(f"bad CSV header: {exc}", 1) from exc
    for problem in feed.take_problems():
        # The header is the first line; a line before it that cannot be read is the header.
        raise UnreadableFile(f"the header row cannot be read: {problem.message}", problem.line)
    if header is None:
        return
    names = [h.strip().lower() for h in header]
    typed = [(i, n) for i, n in enumerate(names) if n in type_names]
    value_col = names.index("value") if "value" in names else None
    type_col = names.index("type") if "type" in names else None
    cat_col = names.index("category") if "category" in names else None
    entry_col = next((names.index(c) for c in ENTRY_COLUMNS if c in names), None)
    if not typed and value_col is None:
        raise UnreadableFile(
            f"the header {header!r} names no value column; expected 'value' or one of "
            f"{', '.join(type_names)}",
            1,
        )
    while True:
        feed.consumed.clear()
        try:
            row = next(reader)
        except StopIteration:
            yield from feed.take_problems()
            return
        except csv.Error as exc:
            yield from feed.take_problems()
            where = feed.consumed[0].number if feed.consumed else reader.line_num
            yield LineProblem(where, f"bad CSV: {exc}")
            continue
        yield from feed.take_problems()
        first = feed.consumed[0] if feed.consumed else None
        number = first.number if first else reader.line_num
        cut = bool(feed.consumed) and feed.consumed[-1].unterminated
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            shape = f"{len(row)} columns where the header has {len(names)}"
            yield LineProblem(number, shape + (CUT_SHORT if cut else ""))
            continue
        row_cat = (row[cat_col].strip() if cat_col is not None else "") or category
        entry = row[entry_col].strip() if entry_col is not None else ""
        found = False
        for i, name in typed:
            if row[i].strip():
                found = True
                yield RawValue(number, name, row[i].strip(), row_cat, entry, cut)
        if value_col is not None and row[value_col].strip():
            found = True
            row_type = (row[type_col].strip().lower() if type_col is not None else "") or type_name
            yield RawValue(number, row_type, row[value_col].strip(), row_cat, entry, cut)
        if not found:
            yield LineProblem(number, "no value in this row" + (CUT_SHORT if cut else ""))
