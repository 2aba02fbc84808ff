"""Read JSON-lines documents, reporting each bad line as FILE:LINE and keeping the good ones.

Lines are read by :mod:`documents.reader` (bounded memory, strict JSON); each object is
validated as a document. Reads the setting ``index.max_document_bytes`` (passed in).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from documents import Document, parse_document
from documents.reader import LineProblem, UnreadableInput, read_json_lines, read_lines
from errors import InvalidDocument

BATCH = 5000


@dataclass
class IngestReport:
    accepted: int = 0
    problems: list[str] = field(default_factory=list)  # unless they went to ``on_problem``
    bad: int = 0  # bad lines


def read_jsonl(
    path: Path | None,
    sink: Callable[[Iterable[Document]], int],
    *,
    name: str | None = None,
    max_bytes: int,
    on_problem: Callable[[str], None] | None = None,
) -> IngestReport:
    """Validate each line of ``path`` (stdin when None) and pass good documents to ``sink``.

    Each bad line (``FILE:LINE: field: what``) goes to ``on_problem`` as it is found, or,
    without one, into ``report.problems``; ``report.bad`` counts them either way.

    Raises :class:`UnreadableInput` (its message names the file) when the file cannot be
    opened or is not UTF-8 at all (a UTF-16 byte-order mark).
    """
    label = name or (str(path) if path else "-")
    report = IngestReport()
    keep = on_problem or report.problems.append

    def problem(message: str) -> None:
        report.bad += 1
        keep(message)

    batch: list[Document] = []
    try:
        stream = path.open("rb") if path else sys.stdin.buffer
    except OSError as exc:
        raise UnreadableInput(f"{label}: cannot read: {exc.strerror}") from exc
    try:
        for item in read_json_lines(read_lines(stream, max_bytes=max_bytes)):
            if isinstance(item, LineProblem):
                problem(f"{label}:{item.line}: {item.message}")
                continue
            try:
                batch.append(parse_document(item.value))
            except InvalidDocument as exc:
                problem(f"{label}:{item.number}: {exc.field}: {exc.message}")
                continue
            if len(batch) >= BATCH:
                report.accepted += sink(batch)
                batch = []
        if batch:
            report.accepted += sink(batch)
    except UnreadableInput as exc:
        where = f"{label}:{exc.line}" if exc.line is not None else label
        raise UnreadableInput(f"{where}: {exc.message}") from exc
    except OSError as exc:
        raise UnreadableInput(f"{label}: cannot read: {exc.strerror}") from exc
    finally:
        if path:
            stream.close()
    return report
