"""The arguments every triage entry point takes, parsed once: an IP address and a time range.

Pure functions; a bad value raises :class:`triage.errors.TriageError` naming the argument.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

from config.timespec import parse_time
from errors import QueryError
from triage.errors import TriageError


def parse_ip(value: str, param: str = "ip") -> str:
    """The canonical text of an IPv4 or IPv6 address (as observations store it)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise TriageError(param, f"not an IP address: {value!r:.80}") from None


def prefix64(ip: str) -> str | None:
    """The /64 network of an IPv6 address (``2001:db8:1:2::/64``), None for IPv4."""
    address = ipaddress.ip_address(ip)
    if address.version != 6:
        return None
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def parse_since(value: str | None, now: datetime, param: str = "since") -> datetime | None:
    """A time (ISO 8601 with offset, or relative like ``now-7d`` / ``30d``), or None."""
    if value is None or not value.strip():
        return None
    try:
        return parse_time(value, now)
    except QueryError as exc:
        raise TriageError(param, f"{value!r:.80} is not a time ({exc})") from None


def parse_range(since: str | None, until: str | None, now: datetime
                ) -> tuple[datetime | None, datetime | None]:
    """A time range; ``until`` before ``since`` is refused naming both."""
    start = parse_since(since, now, "since")
    end = parse_since(until, now, "until")
    if start is not None and end is not None and end < start:
        raise TriageError("until", f"{until!r} is before --since {since!r}")
    return start, end


def parse_min_level(value: int | str, param: str = "min-level") -> int:
    try:
        level = int(value)
    except (TypeError, ValueError):
        raise TriageError(param, f"expected a level 0..3, got {value!r:.40}") from None
    if not 0 <= level <= 3:
        raise TriageError(param, f"expected a level 0..3, got {value!r:.40}")
    return level
