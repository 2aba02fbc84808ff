"""When each target is looked up in the DHT: every ``revisit_s``, at most ``rate_per_s`` overall.

A heap of due times plus a token bucket. New targets are due at once, in the order they
came; a target looked up is due again ``revisit_s`` later. When the targets need more
lookups per second than the rate allows (``cost / revisit_s > rate``) every target is still
looked up in turn, just less often: :attr:`LookupPacer.revisit_in_effect_s` says how often,
and :meth:`LookupPacer.keeping_up` is False. Pure logic with an injectable clock; the watcher
sends the lookups. Reads no settings itself (the watcher passes ``probe.dht_revisit_s`` and
``probe.dht_rate_per_s``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

# The bucket holds at most this many seconds of lookups (a burst after a pause).
BURST_S = 1.0


@dataclass
class LookupPacer:
    revisit_s: float
    rate_per_s: float
    _due: list[tuple[float, int, str]] = field(default_factory=list)
    _cost: dict[str, int] = field(default_factory=dict)
    _seq: int = 0
    _tokens: float = 0.0
    _last: float | None = None
    total_cost: int = 0
    sent: int = 0

    def add(self, key: str, cost: int, now: float) -> None:
        """Look ``key`` up as soon as the rate allows; ``cost`` lookups per visit (1 or 2)."""
        if key in self._cost:
            return
        self._cost[key] = cost
        self.total_cost += cost
        self._seq += 1
        heapq.heappush(self._due, (now, self._seq, key))

    def remove(self, key: str) -> None:
        cost = self._cost.pop(key, None)
        if cost is not None:
            self.total_cost -= cost  # its heap entry is skipped when it comes up

    def __len__(self) -> int:
        return len(self._cost)

    def take(self, now: float) -> list[str]:
        """The targets to look up now (due and within the rate), each rescheduled."""
        if self._last is None:
            self._last = now
        self._tokens = min(self._tokens + (now - self._last) * self.rate_per_s,
                           max(self.rate_per_s * BURST_S, 2.0))
        self._last = now
        out: list[str] = []
        while self._due and self._due[0][0] <= now:
            _, seq, key = self._due[0]
            cost = self._cost.get(key)
            if cost is None:
                heapq.heappop(self._due)
                continue
            if self._tokens < cost:
                break
            heapq.heappop(self._due)
            self._tokens -= cost
            self.sent += cost
            out.append(key)
            heapq.heappush(self._due, (now + self.revisit_s, seq, key))
        return out

    def next_due(self, now: float) -> float:
        """Seconds until the next lookup could go out (0: now)."""
        while self._due and self._due[0][2] not in self._cost:
            heapq.heappop(self._due)
        if not self._due:
            return self.revisit_s
        wait = max(self._due[0][0] - now, 0.0)
        cost = self._cost[self._due[0][2]]
        if self._tokens < cost:
            wait = max(wait, (cost - self._tokens) / self.rate_per_s)
        return wait

    def lag_s(self, now: float) -> float:
        """How long the most overdue target has been waiting."""
        self.next_due(now)  # drops removed targets from the top of the heap
        return max(now - self._due[0][0], 0.0) if self._due else 0.0

    @property
    def needed_rate_per_s(self) -> float:
        return self.total_cost / self.revisit_s

    def keeping_up(self) -> bool:
        return self.needed_rate_per_s <= self.rate_per_s

    @property
    def revisit_in_effect_s(self) -> float:
        return max(self.revisit_s, self.total_cost / self.rate_per_s)
