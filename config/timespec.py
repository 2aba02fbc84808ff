"""Times and durations as people write them: the one parser behind every time a user types.

Settings (alert-rule windows such as ``window_s = "1h"``), query strings
(``fetched_at:>now-7d``), the JSON DSL, ``heroes search --since/--until`` and the console's
``from=``/``to=`` all call this module, so a spelling is accepted or refused identically
everywhere. It lives in ``config`` because settings, the bottom layer, need it too:

- a **duration** is a whole number and a unit: ``500ms``, ``90s``, ``30m``, ``12h``, ``7d``,
  ``2w``. Units have fixed lengths (no months or years, whose length varies);
- a **time** is ISO 8601 (``2026-11-28``, ``2026-11-28T12:00``, with ``Z`` or an offset; UTC
  when none is given), ``now``, ``now-<duration>``, ``now+<duration>``, or a bare
  ``<duration>`` / ``-<duration>``, which both mean that long before now (``7d`` = ``now-7d``).

Times must fall within the years 1 to 9999: both backends store dates as 64-bit epoch
milliseconds and could hold more, but no document time or query bound can leave that range,
so anything outside it is a mistake and is named as one. Every failure is a
:class:`~errors.QueryError` quoting the value. Reads no settings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from errors import QueryError

UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# At most 18 digits: the longest span fits in 15, and int() of a huge string is slow.
_DURATION = re.compile(r"(\d{1,18})(ms|s|m|h|d|w)")
_RELATIVE = re.compile(r"now(?:([+-])(.*))?", re.DOTALL)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_TIME = datetime.min.replace(tzinfo=UTC)
MAX_TIME = datetime.max.replace(tzinfo=UTC)
MIN_MS = (MIN_TIME - _EPOCH) // timedelta(milliseconds=1)
MAX_MS = (MAX_TIME - _EPOCH) // timedelta(milliseconds=1)
RANGE_WORDS = "years 1 to 9999"
DURATION_HELP = "a whole number and one of ms, s, m, h, d, w (e.g. 90s, 12h, 7d)"
TIME_HELP = "an ISO 8601 date or time (2026-11-28, 2026-11-28T12:00Z), now, now-7d, now+12h or 7d"


def _q(value: object) -> str:
    """A value quoted for a message; a pasted novel is cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def duration_ms(text: str) -> int:
    """Milliseconds of a duration such as ``90s``, ``12h`` or ``7d`` (zero allowed)."""
    if not isinstance(text, str):
        raise QueryError(f"{_q(text)} is not a duration: {DURATION_HELP}")
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise QueryError(f"{_q(text)} is not a duration: {DURATION_HELP}")
    ms = int(m.group(1)) * UNIT_MS[m.group(2)]
    if ms > MAX_MS - MIN_MS:
        raise QueryError(f"{_q(text)} is longer than any span of dates ({RANGE_WORDS})")
    return ms


def parse_duration(text: str) -> timedelta:
    """A duration (see the module docstring) as a :class:`timedelta`."""
    return timedelta(milliseconds=duration_ms(text))


def parse_time(text: str | datetime, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from any time spelling of the module docstring.

    ``now`` anchors relative times (default: the current time). A datetime passes through
    (naive ones are taken as UTC).
    """
    if isinstance(text, datetime):
        return _utc(text, text)
    if not isinstance(text, str):
        raise QueryError(f"{_q(text)} is not a time: {TIME_HELP}")
    value = text.strip()
    if value[:1].isdigit():  # the common case first: documents hold ISO times
        try:
            return _utc(datetime.fromisoformat(value), text)
        except ValueError:
            pass
    sign, span = "", ""
    relative = _RELATIVE.fullmatch(value)
    if relative:
        sign, span = relative.group(1) or "", relative.group(2) or ""
        if relative.group(1) is not None and not span:
            raise QueryError(f"{_q(text)} is not a time: {TIME_HELP}")
    elif _DURATION.fullmatch(value.removeprefix("-")):
        sign, span = "-", value.removeprefix("-")
    else:
        return _absolute(text, value)
    base = _utc(now or datetime.now(UTC), text)
    if not span:
        return base
    try:
        delta = parse_duration(span)
    except QueryError as exc:
        raise QueryError(f"{_q(text)} is not a time: {exc}") from None
    try:
        return base - delta if sign == "-" else base + delta
    except OverflowError:
        side = "before year 1" if sign == "-" else "after year 9999"
        raise QueryError(f"{_q(text)} is {side} ({RANGE_WORDS} can be searched)") from None


def is_relative(text: str) -> bool:
    """Whether a time spelling depends on when it is read (``now-7d``, ``7d``)."""
    value = text.strip()
    return value.startswith("now") or _DURATION.fullmatch(value.removeprefix("-")) is not None


def _absolute(text: str, value: str) -> datetime:
    if value.startswith("now") or (value.lstrip("-+")[:1].isdigit() and value[-1:].isalpha()):
        hint = f"a relative time is now-<duration>, with {DURATION_HELP}"
    else:
        hint = TIME_HELP
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{_q(text)} is not a time: {hint}") from None
    return _utc(parsed, text)


def _utc(value: datetime, text: object) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise QueryError(f"{_q(text)} falls outside the {RANGE_WORDS} in UTC") from None


def check_ms(ms: int, text: object) -> int:
    """``ms`` itself when it is a time in the searchable range; QueryError quoting ``text``."""
    if not MIN_MS <= ms <= MAX_MS:
        raise QueryError(f"{_q(text)} is outside the dates an index can hold ({RANGE_WORDS})")
    return ms


def to_ms(value: datetime) -> int:
    """Epoch milliseconds (floored) of an aware datetime."""
    return (value - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def day_after(day: datetime) -> datetime | None:
    """The start of the next day, or None past the last day a date can have."""
    try:
        return day + timedelta(days=1)
    except OverflowError:
        return None
