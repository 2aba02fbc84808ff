"""Plot geometry (pure)."""

from __future__ import annotations

from heroes.console.plots import HEIGHT, WIDTH, histogram, uptime


def test_histogram_scales_to_the_peak_and_keeps_gaps() -> None:
    day = 86_400_000
    plot = histogram([{"key": 0, "doc_count": 2}, {"key": 3 * day, "doc_count": 4}], "1d")
    assert plot.peak == 4 and len(plot.bars) == 2
    assert plot.bars[1].h == HEIGHT and plot.bars[0].h == HEIGHT / 2
    assert plot.bars[1].x > WIDTH / 2  # the three empty days in between keep their width
    assert histogram([]).empty


def test_cumulative_counts_distinct_so_far() -> None:
    plot = histogram([{"key": 0, "doc_count": 2}, {"key": 1000, "doc_count": 3}], cumulative=True)
    assert [b.label.split(": ")[1] for b in plot.bars] == ["2", "5"]


def test_uptime_colours_checks() -> None:
    plot = uptime(
        [
            {"at": "2026-11-01T00:00:00+00:00", "up": True},
            {"at": "2026-11-01T06:00:00+00:00", "up": False},
        ]
    )
    assert [b.fill for b in plot.bars] == ["up", "down"]
    assert uptime([]).empty
