"""The one time and duration syntax: what it accepts, and the words for what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config.timespec import (
    MAX_MS,
    MIN_MS,
    check_ms,
    duration_ms,
    is_relative,
    parse_duration,
    parse_time,
    to_ms,
)
from errors import QueryError

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "ms"), [
    ("500ms", 500), ("90s", 90_000), ("30m", 1_800_000), ("12h", 43_200_000),
    ("7d", 604_800_000), ("2w", 1_209_600_000), ("0s", 0), (" 1h ", 3_600_000),
])
def test_durations(text: str, ms: int) -> None:
    assert duration_ms(text) == ms
    assert parse_duration(text) == timedelta(milliseconds=ms)


@pytest.mark.parametrize(("text", "words"), [
    ("1M", "'1M' is not a duration: a whole number and one of ms, s, m, h, d, w"),
    ("7y", "'7y' is not a duration"),
    ("1.5h", "'1.5h' is not a duration"),
    ("-1h", "'-1h' is not a duration"),
    ("7 d", "'7 d' is not a duration"),
    ("99999999999d", "'99999999999d' is longer than any span of dates (years 1 to 9999)"),
    ("9" * 5000 + "d", "is not a duration"),
])
def test_bad_durations(text: str, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        duration_ms(text)
    assert words in str(caught.value) and len(str(caught.value)) < 300


@pytest.mark.parametrize(("text", "expected"), [
    ("now", NOW), ("now-7d", NOW - timedelta(days=7)), ("now+12h", NOW + timedelta(hours=12)),
    ("7d", NOW - timedelta(days=7)), ("-30m", NOW - timedelta(minutes=30)),
    ("2026-11-28", datetime(2026, 11, 28, tzinfo=UTC)),
    ("2026-11-28T13:00+01:00", NOW), ("2026-11-28T12:00:00Z", NOW), ("2026-11-28T12:00", NOW),
    ("0001-01-01", datetime(1, 1, 1, tzinfo=UTC)),
    ("9999-12-31T23:59:59.999Z", datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
])
def test_times(text: str, expected: datetime) -> None:
    got = parse_time(text, NOW)
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize(("text", "words"), [
    ("now-99999999d", "'now-99999999d' is not a time: '99999999d' is longer than any span"),
    ("99999999999d", "'99999999999d' is not a time: '99999999999d' is longer than any span"),
    ("now-3000000d", "'now-3000000d' is before year 1"),
    ("now+3000000d", "'now+3000000d' is after year 9999"),
    ("now-1M", "'1M' is not a duration"),
    ("now/d", "'now/d' is not a time: a relative time is now-<duration>"),
    ("now-", "'now-' is not a time"),
    ("7y", "'7y' is not a time: a relative time is now-<duration>"),
    ("yesterday", "'yesterday' is not a time: an ISO 8601 date or time"),
    ("2026-13-01", "'2026-13-01' is not a time"),
    ("10000-01-01", "'10000-01-01' is not a time"),
    ("0001-01-01T00:00+01:00", "falls outside the years 1 to 9999 in UTC"),
    ("9999-12-31T23:00-05:00", "falls outside the years 1 to 9999 in UTC"),
])
def test_bad_times(text: str, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_time(text, NOW)
    assert words in str(caught.value)


def test_relative_spellings_and_the_storable_range() -> None:
    assert all(is_relative(t) for t in ("now", "now-1d", "7d", "-7d"))
    assert not any(is_relative(t) for t in ("2026-11-28", "2026-11-28T12:00Z"))
    assert check_ms(MAX_MS, MAX_MS) == MAX_MS and check_ms(MIN_MS, MIN_MS) == MIN_MS
    assert to_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1000
    for ms in (MAX_MS + 1, MIN_MS - 1, 10**20):
        with pytest.raises(QueryError, match="years 1 to 9999"):
            check_ms(ms, ms)
