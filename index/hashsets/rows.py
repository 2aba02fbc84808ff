"""What a hash-list reader yields: raw values with their line, or a problem on a line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawValue:
    """One value as read; ``type`` may be empty when the format does not say."""

    line: int
    type: str
    value: str
    category: str = ""
    entry: str = ""


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int
    message: str
