"""Circuit health per Tor client: when to send NEWNYM. Pure bookkeeping (times are passed in).

NEWNYM is per client and costly: Tor purges that client's whole onion-service state (every
descriptor, introduction and rendezvous of every crawl going through it). So only real
circuit failures count (:data:`crawler.errors.CIRCUIT_CODES`); a dead or down service
(0xF0-0xF7) never does. A success resets a client's count; ``threshold`` circuit failures
in a row make NEWNYM due, and it is granted at most once per ``min_interval_s`` per client
(Tor itself delays more than one per 10 s). A failure while the interval runs keeps the
count, so the next failure after it sends. Reads ``[tor]`` ``newnym_after_failures`` and
``newnym_min_interval_s`` through its caller.
"""

from __future__ import annotations

import math


class CircuitHealth:
    def __init__(self, clients: int, threshold: int, min_interval_s: float = 0.0):
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1 (got {threshold!r})")
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must not be negative (got {min_interval_s!r})")
        self.threshold = threshold
        self.min_interval_s = min_interval_s
        self._failures = [0] * clients
        self._last_sent = [-math.inf] * clients
        self.held_back = [0] * clients

    def success(self, client: int) -> None:
        self._failures[client] = 0

    def failures(self, client: int) -> int:
        """Circuit failures in a row on ``client`` since its last success or NEWNYM."""
        return self._failures[client]

    def failure(self, client: int, now: float = 0.0) -> bool:
        """Record a circuit failure at ``now`` (monotonic seconds); True when NEWNYM is to be
        sent now (enough failures in a row, and the last NEWNYM long enough ago)."""
        self._failures[client] += 1
        if self._failures[client] < self.threshold:
            return False
        if now - self._last_sent[client] < self.min_interval_s:
            self.held_back[client] += 1
            return False
        self._failures[client] = 0
        self._last_sent[client] = now
        return True
