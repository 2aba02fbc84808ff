"""Circuit health per Tor client: when to send NEWNYM. Pure bookkeeping, no I/O.

A success resets a client's count; ``threshold`` circuit failures in a row (descriptor not
found, introduction or rendezvous failed...) make NEWNYM due and reset the count, so one
bad stretch costs one NEWNYM (tor rate-limits them to one per 10 s anyway). Reads
``[tor]`` ``newnym_after_failures`` through its caller.
"""

from __future__ import annotations


class CircuitHealth:
    def __init__(self, clients: int, threshold: int):
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1 (got {threshold!r})")
        self.threshold = threshold
        self._failures = [0] * clients

    def success(self, client: int) -> None:
        self._failures[client] = 0

    def failure(self, client: int) -> bool:
        """Record a circuit failure; True when NEWNYM is due for this client."""
        self._failures[client] += 1
        if self._failures[client] >= self.threshold:
            self._failures[client] = 0
            return True
        return False
