"""Common pivot values: shown to an analyst, never a reason to link two services.

A value is common when more than ``analysis.common_fraction`` of all services carry it (once
the index holds ``analysis.common_min_services`` services: on a handful every value is on a
large share), or when a suppression file the unit keeps lists it
(``analysis.suppress_files``). A suppression file is either text, one value a line (``#``
starts a comment; ``name:value`` with a pivot name suppresses it for that pivot only), or a
MISP warning list (JSON with ``list`` and ``type``: ``string``/``hostname`` match exactly,
``substring`` inside a value; other types are refused). Suppressed values compare without
case.

:meth:`CommonValues.load` counts, with one search of terms aggregations over the ``service``
kind, every value carried by more than the fraction. A bad suppression file is a
:class:`SuppressionError` naming the file and line. Reads ``[analysis]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.sections.analysis import AnalysisSettings
from documents.pivots import PIVOT_LIMIT, PIVOT_NAMES
from errors import HeroesError
from index.backends.base import Backend
from query.model import Search, TermsAgg

# A terms aggregation reads at most this many values of one pivot.
MAX_COMMON_BUCKETS = 10_000
_EXACT_TYPES = ("string", "hostname")


class SuppressionError(HeroesError):
    """A suppression file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Suppression:
    """Values never linked: exact (by pivot, ``None`` for any) and substrings."""

    exact: dict[str | None, dict[str, str]] = field(default_factory=dict)  # value -> source
    substrings: tuple[tuple[str, str], ...] = ()  # (lower-cased part, source)

    def why(self, name: str, value: str) -> str:
        low = value.casefold()
        for scope in (name, None):
            source = self.exact.get(scope, {}).get(low)
            if source:
                return f"on the suppression list {source}"
        for part, source in self.substrings:
            if part in low:
                return f"contains {part!r}, on the suppression list {source}"
        return ""


def _text_entries(path: Path, text: str) -> Iterable[tuple[str | None, str, str]]:
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, rest = line.partition(":")
        if sep and name in PIVOT_NAMES:
            if not rest.strip():
                raise SuppressionError(f"{path}:{number}: no value after {name + ':'!r}")
            yield name, rest.strip(), f"{path}:{number}"
        else:
            yield None, line, f"{path}:{number}"


def _misp_entries(path: Path, data: object) -> tuple[list[str], bool]:
    if not isinstance(data, dict) or not isinstance(data.get("list"), list):
        raise SuppressionError(f"{path}: a MISP warning list needs a \"list\" array")
    kind = data.get("type", "string")
    if kind not in (*_EXACT_TYPES, "substring"):
        raise SuppressionError(
            f"{path}: MISP warning-list type {kind!r} is not supported; string, hostname "
            "and substring are")
    values = data["list"]
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise SuppressionError(f"{path}: list[{i}]: {value!r} is not a value")
    return [v.strip() for v in values], kind == "substring"


def load_suppression(paths: Iterable[Path]) -> Suppression:
    """Every suppression file read into one :class:`Suppression`."""
    exact: dict[str | None, dict[str, str]] = {}
    substrings: list[tuple[str, str]] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SuppressionError(f"{path}: cannot read the suppression file: {exc}") from exc
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SuppressionError(
                    f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
            values, partial = _misp_entries(path, data)
            name = data.get("name") or path.name
            source = f"{path} ({name})"
            for value in values:
                if partial:
                    substrings.append((value.casefold(), source))
                else:
                    exact.setdefault(None, {}).setdefault(value.casefold(), source)
            continue
        for scope, value, source in _text_entries(Path(path), text):
            exact.setdefault(scope, {}).setdefault(value.casefold(), source)
    return Suppression(exact, tuple(substrings))


class CommonValues:
    """Which pivot values are common, and why (see the module docstring)."""

    def __init__(self, settings: AnalysisSettings, counts: Mapping[str, Mapping[str, int]],
                 total_services: int, suppression: Suppression | None = None):
        self.settings = settings
        self.total = total_services
        self.suppression = suppression if suppression is not None else load_suppression(
            settings.suppress_files)
        # Only the values above the fraction are kept: the rest are not common.
        limit = self._limit()
        self.counts: dict[str, dict[str, int]] = {
            name: {v: n for v, n in values.items() if n > limit}
            for name, values in counts.items()
        }

    def _limit(self) -> float:
        if self.total < self.settings.common_min_services:
            return math.inf
        return self.settings.common_fraction * self.total

    @classmethod
    async def load(cls, settings: AnalysisSettings, backend: Backend,
                   suppression: Suppression | None = None) -> CommonValues:
        """Count the services carrying each frequent value (one search)."""
        size = min(MAX_COMMON_BUCKETS, math.ceil(PIVOT_LIMIT / settings.common_fraction) + 1)
        result = await backend.search(Search(
            kind="service", size=0,
            aggs={name: TermsAgg(f"pivots.{name}", size) for name in PIVOT_NAMES}))
        # A search's total may be a lower bound (Elasticsearch stops counting at 10,000).
        total = await backend.count("service")
        aggs = result.get("aggregations", {})
        counts = {
            name: {str(b["key"]): int(b["doc_count"]) for b in aggs.get(name, {}).get(
                "buckets", [])}
            for name in PIVOT_NAMES
        }
        return cls(settings, counts, total, suppression)

    def why(self, name: str, value: str) -> str:
        """Why ``value`` of pivot ``name`` is common, or '' when it is not."""
        listed = self.suppression.why(name, value)
        if listed:
            return listed
        count = self.counts.get(name, {}).get(value)
        if count is None:
            return ""
        share = count / self.total
        return (f"on {count} of {self.total} services ({share:.0%}), more than "
                f"analysis.common_fraction {self.settings.common_fraction:.0%}")

    def is_common(self, name: str, value: str) -> bool:
        return bool(self.why(name, value))
