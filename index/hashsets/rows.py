"""What a hash-list reader yields: raw values with their line, or a problem on a line."""

from __future__ import annotations

from dataclasses import dataclass

from documents.reader import LineProblem


@dataclass(slots=True)  # not frozen: a big list makes millions of them
class RawValue:
    """One value as read; ``type`` may be empty when the format does not say."""

    line: int
    type: str
    value: str
    category: str = ""
    entry: str = ""
    cut_short: bool = False  # on the last line, which has no newline: the file may be cut


__all__ = ["LineProblem", "RawValue"]
