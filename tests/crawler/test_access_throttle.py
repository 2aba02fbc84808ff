"""Per-host politeness rules (pure): pause on Retry-After, exponential backoff without it,
the delay fitted to what the site accepted, one stream after a 429, slow start after NEWNYM."""

from __future__ import annotations

from config.sections.crawler import CrawlerSettings
from crawler.access.throttle import RAMP_EVERY, HostThrottle


def _host(**kw: object) -> HostThrottle:
    return HostThrottle(CrawlerSettings(**kw))


def test_starts_at_the_stream_budget_and_delay() -> None:
    host = _host(streams_per_circuit=3, host_delay_s=0.5)
    assert (host.concurrency, host.delay, host.paused_until) == (3, 0.5, 0.0)
    assert _host(streams_per_circuit=8, concurrency_per_host=2).concurrency == 2


def test_retry_after_pauses_and_fits_the_delay_to_the_window() -> None:
    host = _host(rate_window_s=10, host_delay_s=0.1)
    for i in range(5):
        host.answered(100.0 + i * 0.2)
    wait = host.limited(101.0, 7.0)
    assert wait == 7.0 and host.paused_until == 108.0
    assert host.concurrency == 1
    # 5 answers accepted in a 10 s window: at most one request per 2 s (plus a margin).
    assert 2.0 < host.delay < 2.5
    host.answered(109.0)
    assert host.concurrency == 1  # a learned limit does not ramp back up


def test_backoff_doubles_without_retry_after_and_is_capped() -> None:
    host = _host(backoff_base_s=2, max_retry_after_s=10, max_host_delay_s=30, rate_window_s=60)
    assert [host.limited(0.0, None) for _ in range(5)] == [2, 4, 8, 10, 10]
    assert host.delay == 30  # doubled on each 429 in a row, capped
    assert _host(max_retry_after_s=60).limited(0.0, 3600.0) == 60


def test_429s_of_one_burst_teach_the_delay_once() -> None:
    host = _host(rate_window_s=60, host_delay_s=0.1, max_host_delay_s=120)
    for i in range(5):
        host.answered(i * 0.2)
    host.limited(1.0, 5.0)
    learned = host.delay
    # Requests in flight when the first 429 came: their 429s do not double the delay.
    host.limited(1.1, 5.0)
    host.limited(1.2, 5.0)
    assert host.delay == learned
    host.answered(7.0)
    host.limited(8.0, 5.0)  # after the pause: the limit was still too fast
    assert host.delay == 2 * learned


def test_an_answer_ends_the_run_of_strikes() -> None:
    host = _host(backoff_base_s=1)
    host.limited(0.0, None)
    host.limited(1.0, None)
    host.answered(5.0)
    assert host.limited(6.0, None) == 1


def test_newnym_restarts_from_one_stream_and_ramps_up() -> None:
    host = _host(streams_per_circuit=3)
    host.newnym()
    assert host.concurrency == 1
    seen = []
    for i in range(RAMP_EVERY * 3):
        host.answered(float(i))
        seen.append(host.concurrency)
    assert seen[RAMP_EVERY - 2] == 1 and seen[RAMP_EVERY - 1] == 2 and seen[-1] == 3
