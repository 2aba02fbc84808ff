"""What the MISP and STIX readers share: the file as JSON, where an object starts, checked rows.

:func:`load_json` reads the whole file (at most ``MAX_FILE_BYTES``) as UTF-8 JSON with
:mod:`documents.strictjson`; a file that is not is :class:`UnreadableExchangeFile` naming
the line. :class:`Rows` turns the values the readers find into the rows the hash-list
import takes (:class:`index.hashsets.rows.RawValue`), each value checked first by its hash
type (:mod:`index.hashsets.types`, which asks :mod:`identifiers`), so that a bad value is a
problem naming its object (index and id) at the line where the object starts, and values of
types no list holds are counted, not lost in silence.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from documents.strictjson import JsonRefused, loads
from exchange.errors import UnreadableExchangeFile
from index.hashsets.errors import BadValue, UnknownHashType
from index.hashsets.registry import HASH_TYPES, HashTypeRegistry
from index.hashsets.rows import LineProblem, RawValue

MAX_FILE_BYTES = 256 << 20
_ID = re.compile(r'"(?:id|uuid)"\s*:\s*"([^"\\]{1,200})"')


@dataclass
class Source:
    """A MISP or STIX file as JSON, with the line where each ``id``/``uuid`` first appears."""

    path: Path
    text: str
    data: Any
    _newlines: list[int] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        for match in _ID.finditer(self.text):
            self._ids.setdefault(match.group(1), match.start())

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1

    def line_of(self, object_id: object) -> int:
        """The line of the object with this id (1 when it has none or it is not found)."""
        offset = self._ids.get(str(object_id)) if object_id else None
        return 1 if offset is None else self.line_at(offset)


def load_json(path: Path, what: str) -> Source:
    """The file at ``path`` as JSON; ``what`` names the format in errors."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableExchangeFile(
                f"{path}: {size} bytes is more than a {what} file may have ({MAX_FILE_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableExchangeFile(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UnreadableExchangeFile(f"{path}:{line}: not UTF-8 (byte {exc.start})") from exc
    text = text.removeprefix("\ufeff")
    try:
        data = loads(text)
    except JsonRefused as exc:
        line = text.count("\n", 0, exc.pos) + 1 if exc.pos is not None else None
        where = f"{path}:{line}" if line is not None else str(path)
        raise UnreadableExchangeFile(f"{where}: not a {what} file: {exc.message}") from exc
    return Source(path, text, data)


class Rows:
    """Checked rows for the hash-list import, and the count of values of no list type."""

    def __init__(self, source: Source, category: str = "",
                 registry: HashTypeRegistry = HASH_TYPES):
        self.source = source
        self.category = category
        self.registry = registry
        self.skipped: Counter[str] = Counter()
        self.objects = 0  # objects read, good or bad

    def problem(self, object_id: object, where: str, message: str) -> LineProblem:
        return LineProblem(self.source.line_of(object_id), f"{where}: {message}")

    def value(
        self, kind: str, raw: str, *, object_id: object, where: str, entry: str = ""
    ) -> Iterator[RawValue | LineProblem]:
        """One value of list type ``kind``, or the problem with it; else counted as skipped."""
        if kind not in self.registry:
            self.skipped[kind] += 1
            return
        try:
            self.registry.get(kind).normalize_each(raw)
        except (BadValue, UnknownHashType) as exc:
            yield self.problem(object_id, where, str(exc))
            return
        yield RawValue(self.source.line_of(object_id), kind, raw, self.category,
                       entry or str(object_id or ""))


def skipped_summary(skipped: Counter[str]) -> str:
    """``3 url, 1 ip-dst`` — values of types that no list holds, most first."""
    return ", ".join(f"{n} {kind}" for kind, n in skipped.most_common())
