"""Geometry of the console's plots, drawn server-side as inline SVG (no script, no library).

Pure functions from buckets or check histories to rectangles in a fixed viewBox; the
templates only place them. Reads no settings.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from query.model import interval_ms

WIDTH = 600
HEIGHT = 120


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    fill: str = "bar"
    href: str = ""  # a console URL narrowing to this bar's time range


@dataclass(frozen=True)
class Plot:
    bars: tuple[Bar, ...]
    start: str
    end: str
    peak: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not self.bars


def _day(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def histogram(
    buckets: Sequence[dict[str, Any]], interval: str = "", *, cumulative: bool = False
) -> Plot:
    """Bars for ``[{key: epoch ms, doc_count: n}]`` of a fixed ``interval`` (empty ones are
    left out by the backend and keep their place); cumulative sums give 'distinct so far'."""
    points = sorted((float(b["key"]), int(b["doc_count"])) for b in buckets)
    hrefs = {float(b["key"]): str(b.get("href", "")) for b in buckets}
    if not points:
        return Plot((), "", "", 0)
    if cumulative:
        total = 0
        summed = []
        for key, count in points:
            total += count
            summed.append((key, total))
        points = summed
    peak = max(c for _, c in points) or 1
    first, last = points[0][0], points[-1][0]
    if interval:
        step = float(interval_ms(interval))
    else:
        step = min((b[0] - a[0] for a, b in itertools.pairwise(points)), default=1.0) or 1.0
    slots = (last - first) / step + 1
    w = WIDTH / slots
    bars = tuple(
        Bar(
            x=round((key - first) / step * w, 2),
            y=round(HEIGHT - HEIGHT * count / peak, 2),
            w=round(max(w * 0.9, 0.5), 2),
            h=round(HEIGHT * count / peak, 2),
            label=f"{_day(key)}: {count}",
            href=hrefs.get(key, ""),
        )
        for key, count in points
    )
    return Plot(bars, _day(first), _day(last), peak)


def uptime(history: Sequence[dict[str, Any]]) -> Plot:
    """A timeline of checks: each check colours the span until the next one up or down."""
    checks = sorted(
        (datetime.fromisoformat(c["at"]).timestamp(), bool(c.get("up")))
        for c in history
        if c.get("at")
    )
    if not checks:
        return Plot((), "", "", 0)
    first, last = checks[0][0], checks[-1][0]
    span = (last - first) or 1.0
    bars = []
    for i, (at, up) in enumerate(checks):
        until = checks[i + 1][0] if i + 1 < len(checks) else last + span / max(len(checks), 1)
        x = (at - first) / span * WIDTH * 0.97
        w = max((until - at) / span * WIDTH * 0.97, 1.0)
        bars.append(
            Bar(
                x=round(x, 2),
                y=0,
                w=round(w, 2),
                h=HEIGHT / 3,
                label=f"{_day(at * 1000)}: {'up' if up else 'down'}",
                fill="up" if up else "down",
            )
        )
    return Plot(tuple(bars), _day(first * 1000), _day(last * 1000), 1, height=HEIGHT // 3)
