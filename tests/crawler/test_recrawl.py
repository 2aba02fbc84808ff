"""Re-crawl schedule: live services after the interval, dead ones with exponential backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.sections.crawler import CrawlerSettings
from crawler.recrawl import dead_in_a_row, due_services, next_check
from documents.service import Check, Service

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OPTIONS = CrawlerSettings(recrawl_interval_h=1.0, dead_backoff_base=2.0)


def _service(host: str, last_seen_h_ago: float, checks: list[bool]) -> Service:
    last = NOW - timedelta(hours=last_seen_h_ago)
    history = [
        Check(at=last - timedelta(hours=len(checks) - i - 1), up=up) for i, up in enumerate(checks)
    ]
    return Service(host=host, first_seen=last - timedelta(days=9), last_seen=last, history=history)


def test_dead_in_a_row_counts_from_the_newest_check() -> None:
    assert dead_in_a_row(_service("a", 0, [True, False, False])) == 2
    assert dead_in_a_row(_service("a", 0, [False, True])) == 0


def test_backoff_grows_with_consecutive_failures() -> None:
    live = _service("live", 0, [True])
    dead3 = _service("dead", 0, [True, False, False, False])
    assert next_check(live, OPTIONS) - live.last_seen == timedelta(hours=1)
    assert next_check(dead3, OPTIONS) - dead3.last_seen == timedelta(hours=8)


def test_due_services_longest_overdue_first() -> None:
    services = [
        _service("fresh", 0.5, [True]),
        _service("stale", 3, [True]),
        _service("older", 5, [True]),
        _service("dead-recently", 3, [False, False, False]),
        _service("dead-long-ago", 20, [False, False, False]),
    ]
    assert due_services(services, NOW, OPTIONS) == ["dead-long-ago", "older", "stale"]
