"""When a known service or page is due again: pure functions over ``service`` documents.

A live service is due ``crawler.recrawl_interval_h`` after it was last seen. A down one
backs off: after ``n`` failed checks in a row it is due ``interval * base**n`` after the
last check (``crawler.dead_backoff_base``), never later than ``crawler.max_recheck_s``, so
a service that went away is still looked at every week or so. ``crawler.dead_after_checks``
failed checks in a row make it dead (for the status view; it keeps its capped backoff).
A deep page is fetched again ``crawler.refetch_interval_s`` after its last fetch. Reads
``[crawler]`` through the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from config.sections.crawler import CrawlerSettings
from documents.service import Service

# Beyond this many misses the backoff is at its cap anyway; keeps base**n finite.
MAX_BACKOFF_STEPS = 64

ServiceState = Literal["up", "down", "dead", "new"]


def dead_in_a_row(service: Service) -> int:
    count = 0
    for check in sorted(service.history, key=lambda c: c.at, reverse=True):
        if check.up:
            break
        count += 1
    return count


def recheck_after_s(misses: int, options: CrawlerSettings) -> float:
    """Seconds from a front-page check to the next, after ``misses`` failed checks in a row."""
    interval = options.recrawl_interval_h * 3600.0
    steps = min(max(misses, 0), MAX_BACKOFF_STEPS)
    return min(interval * options.dead_backoff_base**steps, options.max_recheck_s)


def next_check(service: Service, options: CrawlerSettings) -> datetime:
    return service.last_seen + timedelta(seconds=recheck_after_s(dead_in_a_row(service), options))


def service_state(service: Service, options: CrawlerSettings) -> ServiceState:
    """up (its last check answered), down, dead (down ``dead_after_checks`` times in a row),
    or new (never checked)."""
    if not service.history:
        return "new"
    misses = dead_in_a_row(service)
    if misses == 0:
        return "up"
    return "dead" if misses >= options.dead_after_checks else "down"


def due_services(services: Iterable[Service], now: datetime, options: CrawlerSettings) -> list[str]:
    """Hosts to check now, the longest overdue first."""
    due = [(next_check(s, options), s.host) for s in services if next_check(s, options) <= now]
    return [host for _, host in sorted(due)]
