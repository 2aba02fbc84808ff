"""Which Tor client and which SOCKS username a host gets: pure functions, no settings.

With ``IsolateSOCKSAuth`` Tor never shares a circuit between different SOCKS credentials,
so one username per onion gives each onion its own circuits, and hashing the host picks the
same client every time (Ahmia's rule: one onion, one client, one circuit).
"""

from __future__ import annotations

import hashlib


def _digest(host: str) -> bytes:
    return hashlib.sha256(host.lower().encode("utf-8")).digest()


def socks_username(host: str) -> str:
    return "h-" + _digest(host)[:8].hex()


def client_index(host: str, clients: int) -> int:
    if clients < 1:
        raise ValueError(f"clients must be at least 1 (got {clients!r})")
    return int.from_bytes(_digest(host)[8:16], "big") % clients
