"""Alert rules read times in the one syntax: durations for their spans, relative query times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from alerting.rules import evaluate, rule_query
from config.sections.alerts import AlertRule
from documents import Page


def test_spans_take_seconds_or_durations() -> None:
    rule = AlertRule(name="f", type="frequency", query="tea", window_s="2h", realert_s="90s",
                     digest_s="1d")
    assert (rule.window_s, rule.realert_s, rule.digest_s) == (7200.0, 90.0, 86400.0)
    assert AlertRule(name="n", type="hit", window_s=30).window_s == 30.0
    for bad, words in [("1M", "'1M' is not a duration"), ("0s", "greater than 0"),
                       ("99999999999d", "longer than any span")]:
        with pytest.raises(ValidationError) as caught:
            AlertRule(name="b", type="hit", window_s=bad)
        assert words in str(caught.value)


def test_a_relative_query_time_is_resolved_at_each_evaluation() -> None:
    rule = AlertRule(name="recent", type="keyword", query="fetched_at:>now-1d")
    now = datetime.now(UTC)
    fresh = Page(url="http://fresh.onion/", fetched_at=now - timedelta(hours=2), title="x")
    stale = Page(url="http://stale.onion/", fetched_at=now - timedelta(days=2), title="x")
    assert evaluate(rule, fresh) is not None
    assert evaluate(rule, stale) is None
    # Parsed again each time (a cached parse would keep the first "now" forever) ...
    assert rule_query(rule, "page") is not rule_query(rule, "page")
    # ... while a query without relative times is parsed once.
    fixed = AlertRule(name="fixed", type="keyword", query="fetched_at:>2026-11-01 title:x")
    assert rule_query(fixed, "page") is rule_query(fixed, "page")
