"""Which known services are due for a re-check: a pure function over ``service`` documents.

A live service is due ``crawler.recrawl_interval_h`` after it was last seen. A dead one
backs off: after ``n`` failed checks in a row it is due ``interval * base**n`` after the
last check (``crawler.dead_backoff_base``), capped at ``MAX_BACKOFF_STEPS`` steps, so a
service that went away is still looked at now and then. Reads ``[crawler]`` through the
caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from config.sections.crawler import CrawlerSettings
from index.documents.service import Service

MAX_BACKOFF_STEPS = 17


def dead_in_a_row(service: Service) -> int:
    count = 0
    for check in sorted(service.history, key=lambda c: c.at, reverse=True):
        if check.up:
            break
        count += 1
    return count


def next_check(service: Service, options: CrawlerSettings) -> datetime:
    interval = timedelta(hours=options.recrawl_interval_h)
    misses = min(dead_in_a_row(service), MAX_BACKOFF_STEPS)
    if misses:
        interval = interval * (options.dead_backoff_base**misses)
    return service.last_seen + interval


def due_services(services: Iterable[Service], now: datetime, options: CrawlerSettings) -> list[str]:
    """Hosts to check now, the longest overdue first."""
    due = [(next_check(s, options), s.host) for s in services if next_check(s, options) <= now]
    return [host for _, host in sorted(due)]
