"""CSV lists with a header row naming the columns.

Recognised columns (case-insensitive): a hash type name (``md5``, ``sha1``, ``sha256``,
``pdq``, ``infohash``, ``btc``, ...) holding values of that type; or ``value`` with an
optional ``type`` column; ``category``; and an entry id in ``id``, ``entry``,
``media_id`` or ``mediaid``. A row may carry several typed columns; empty cells are skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

from index.hashsets.errors import UnreadableFile
from index.hashsets.rows import LineProblem, RawValue

ENTRY_COLUMNS = ("id", "entry", "media_id", "mediaid", "entry_id")


def read_csv(
    stream: TextIO, *, type_names: list[str], type_name: str = "", category: str = ""
) -> Iterator[RawValue | LineProblem]:
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise UnreadableFile(f"bad CSV header: {exc}", 1) from exc
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
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield LineProblem(reader.line_num, f"bad CSV: {exc}")
            continue
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            yield LineProblem(number, f"{len(row)} columns where the header has {len(names)}")
            continue
        row_cat = (row[cat_col].strip() if cat_col is not None else "") or category
        entry = row[entry_col].strip() if entry_col is not None else ""
        found = False
        for i, name in typed:
            if row[i].strip():
                found = True
                yield RawValue(number, name, row[i].strip(), row_cat, entry)
        if value_col is not None and row[value_col].strip():
            found = True
            row_type = (row[type_col].strip().lower() if type_col is not None else "") or type_name
            yield RawValue(number, row_type, row[value_col].strip(), row_cat, entry)
        if not found:
            yield LineProblem(number, "no value in this row")
