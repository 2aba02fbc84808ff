"""Per-onion SOCKS usernames and client pinning are stable and spread hosts apart."""

from __future__ import annotations

from collections import Counter

import pytest

from crawler.tor.isolation import client_index, socks_username


def test_username_is_stable_per_host_and_distinct_between_hosts() -> None:
    a, b = "a" * 56 + ".onion", "b" * 56 + ".onion"
    assert socks_username(a) == socks_username(a.upper())
    assert socks_username(a) != socks_username(b)
    assert socks_username(a).startswith("h-")


def test_client_index_pins_a_host_and_spreads_many() -> None:
    hosts = [f"{i:056d}.onion" for i in range(400)]
    assert all(client_index(h, 4) == client_index(h, 4) for h in hosts)
    counts = Counter(client_index(h, 4) for h in hosts)
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) > 60


def test_client_index_needs_a_client() -> None:
    with pytest.raises(ValueError, match="clients must be at least 1"):
        client_index("x.onion", 0)
