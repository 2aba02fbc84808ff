"""Read JSON-lines documents, reporting each bad line as FILE:LINE and keeping the good ones."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from index.documents import Document, parse_document
from index.errors import InvalidDocument

BATCH = 5000


@dataclass
class IngestReport:
    accepted: int = 0
    problems: list[str] = field(default_factory=list)


def read_jsonl(
    path: Path | None, sink: Callable[[Iterable[Document]], int], *, name: str | None = None
) -> IngestReport:
    """Validate each line of ``path`` (stdin when None) and pass good documents to ``sink``."""
    label = name or (str(path) if path else "-")
    report = IngestReport()
    batch: list[Document] = []
    stream = path.open("r", encoding="utf-8", errors="replace") if path else sys.stdin
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                report.problems.append(
                    f"{label}:{number}: not JSON: {exc.msg} at column {exc.colno}"
                )
                continue
            try:
                batch.append(parse_document(data))
            except InvalidDocument as exc:
                report.problems.append(f"{label}:{number}: {exc.field}: {exc.message}")
                continue
            if len(batch) >= BATCH:
                report.accepted += sink(batch)
                batch = []
        if batch:
            report.accepted += sink(batch)
    finally:
        if path:
            stream.close()
    return report
