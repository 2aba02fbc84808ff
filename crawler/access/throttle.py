"""Per-host politeness state: how many Tor streams an onion gets, how far apart its requests
go, and until when it is paused. Pure (times are passed in), so the rules are unit-tested.

Rules: a host starts at ``streams_per_circuit`` streams and ``host_delay_s`` between
requests. A 429 (or 503) pauses it for ``Retry-After`` (capped at ``max_retry_after_s``), or
without one for ``backoff_base_s`` doubling with each limited answer in a row; it drops to
one stream, and its delay becomes what the site showed it accepts: ``rate_window_s`` divided
by the answers it gave in the last window (times a margin), doubled again on every further
429 after the pause (not for the 429s of requests already in flight), never more than
``max_host_delay_s``. A learned delay is kept for the rest of the
crawl (a site's limit does not change by itself). After a NEWNYM every host restarts at one
stream and gains one per ``RAMP_EVERY`` answers, so new circuits never get a burst.

Opening a stream adapts per host: it starts at ``connect_timeout_s``, grows by
``connect_timeout_growth`` on every connect timeout up to ``max_connect_timeout_s`` (slow and
proof-of-work-protected onions take 40-120 s), and a stream that opened in under half of it
brings it one step back, never below the start nor below twice that opening time. A failed
fetch that is retried (circuit failure, timeout) pauses the host for ``retry_backoff_s``
doubling with each retry of that URL, at most ``max_retry_backoff_s``. A host-level failure
(the service is down or refused the address) takes the host out for ``host_down_backoff_s``,
doubling with each one in a row, at most ``max_host_down_backoff_s``; any answer ends that.
Reads ``[crawler]`` through the ``CrawlerSettings`` it is given.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from config.sections.crawler import CrawlerSettings

# Fired by the download handler after it sent NEWNYM to a Tor client (kwargs: client=index).
NEWNYM_SENT = object()
MARGIN = 1.15
RAMP_EVERY = 3
# Back-offs double at most this often (the cap settles them long before).
MAX_DOUBLINGS = 40


@dataclass
class HostThrottle:
    options: CrawlerSettings
    concurrency: int = 0
    delay: float = 0.0
    paused_until: float = 0.0
    strikes: int = 0
    limited_total: int = 0
    learned: bool = False
    ramp: int = 0  # answers since the last concurrency step while ramping up; -1: not ramping
    answers: deque[float] = field(default_factory=deque)
    connect_timeout: float = 0.0
    down_strikes: int = 0
    down_until: float = 0.0
    down_reason: str = ""

    def __post_init__(self) -> None:
        self.concurrency = self.concurrency or self._max_streams()
        self.delay = self.delay or self.options.host_delay_s
        self.connect_timeout = self.connect_timeout or self.options.connect_timeout_s
        self.ramp = -1

    def _max_streams(self) -> int:
        return max(1, min(self.options.streams_per_circuit, self.options.concurrency_per_host))

    def _forget_old(self, now: float) -> None:
        while self.answers and self.answers[0] < now - self.options.rate_window_s:
            self.answers.popleft()

    def answered(self, now: float) -> None:
        """An ordinary answer (any status but 429/503)."""
        self.strikes = 0
        self.down_strikes, self.down_until, self.down_reason = 0, 0.0, ""
        self.answers.append(now)
        self._forget_old(now)
        if self.ramp >= 0 and not self.learned:
            self.ramp += 1
            if self.ramp >= RAMP_EVERY:
                self.ramp = 0
                self.concurrency = min(self._max_streams(), self.concurrency + 1)
                if self.concurrency >= self._max_streams():
                    self.ramp = -1

    def limited(self, now: float, retry_after: float | None) -> float:
        """A 429/503: returns how long the host now waits (seconds)."""
        self.strikes += 1
        self.limited_total += 1
        self._forget_old(now)
        accepted = max(1, len(self.answers))
        fitted = self.options.rate_window_s / accepted * MARGIN
        # A 429 while the host is paused answers a request sent before the last 429 (the
        # same burst): it says nothing new about the limit, so the delay is not doubled.
        if self.learned and now >= self.paused_until:
            fitted = max(fitted, self.delay * 2)
        self.delay = min(self.options.max_host_delay_s, max(self.delay, fitted))
        self.learned = True
        self.concurrency = 1
        if retry_after is not None:
            wait = retry_after
        else:
            wait = self.options.backoff_base_s * 2 ** (self.strikes - 1)
        wait = min(wait, self.options.max_retry_after_s)
        self.paused_until = max(self.paused_until, now + wait)
        return wait

    def newnym(self) -> None:
        """Fresh circuits: start again from one stream."""
        self.concurrency = 1
        self.ramp = 0 if self._max_streams() > 1 else -1

    def connect_timed_out(self) -> float:
        """A stream did not open in time: the next one may take longer. Returns the new
        connect timeout."""
        growth = self.options.connect_timeout_growth
        self.connect_timeout = min(self.options.max_connect_timeout_s,
                                   self.connect_timeout * growth)
        return self.connect_timeout

    def connected(self, open_s: float) -> None:
        """A stream opened after ``open_s`` seconds."""
        if open_s * 2 < self.connect_timeout:
            growth = self.options.connect_timeout_growth
            self.connect_timeout = max(
                self.options.connect_timeout_s, self.connect_timeout / growth, open_s * 2
            )

    def retry_wait(self, attempt: int) -> float:
        """Seconds before the ``attempt``-th retry (1 = the first) of a failed fetch."""
        wait = self.options.retry_backoff_s * 2 ** min(max(0, attempt - 1), MAX_DOUBLINGS)
        return float(min(wait, self.options.max_retry_backoff_s))

    def failed(self, now: float, attempt: int) -> float:
        """A fetch failed and will be retried (``attempt``-th time): pause the host. Returns
        the wait."""
        wait = self.retry_wait(attempt)
        self.paused_until = max(self.paused_until, now + wait)
        return wait

    def service_down(self, now: float, reason: str) -> float:
        """The service is down or refused the address: no request until the returned number
        of seconds have passed."""
        self.down_strikes += 1
        wait = self.options.host_down_backoff_s * 2 ** min(self.down_strikes - 1, MAX_DOUBLINGS)
        wait = float(min(wait, self.options.max_host_down_backoff_s))
        self.down_until = max(self.down_until, now + wait)
        self.down_reason = reason
        return wait

    def is_down(self, now: float) -> bool:
        return now < self.down_until
