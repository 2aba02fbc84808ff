"""Configuration errors that name the file, the line and the key path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def key_path(loc: Sequence[str | int]) -> str:
    """A key path as people write it: ``alerts.rules[0].query``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration, located as precisely as we can."""

    source: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.key}: {self.message}"


class ConfigError(Exception):
    """Raised when a configuration cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
