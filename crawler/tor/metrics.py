"""The crawl's Tor clients as metrics: ``heroes_tor_circuits{client}``, the circuits each
client has built, read with stem at every scrape (beside ``heroes_tor_newnym_total``, which
comes from the crawl's stats).

A client is asked through the crawl's own :class:`crawler.tor.client.TorPool` when it has one
(its controllers stay open), otherwise through a short-lived control connection to each
endpoint's control port; a client that cannot be asked is left out of that scrape. Reads
``tor.control_password`` through its caller.
"""

from __future__ import annotations

from collections.abc import Sequence

from crawler.tor.client import TorEndpoint, TorPool, built_circuits
from telemetry.metrics import TOR_CIRCUITS

Samples = dict[tuple[str, ...], float]


def circuit_samples(endpoints: Sequence[TorEndpoint], pool: TorPool | None = None,
                    password: str = "") -> Samples:
    """``{(client index,): built circuits}`` for the clients that answer."""
    if pool is not None:
        counts = pool.built_circuits()
    else:
        counts = {}
        for index, endpoint in enumerate(endpoints):
            built = built_circuits(endpoint, password)
            if built is not None:
                counts[index] = built
    return {(str(index),): float(n) for index, n in counts.items()}


def watch_circuits(key: str, endpoints: Sequence[TorEndpoint], pool: TorPool | None = None,
                   password: str = "") -> None:
    """Report the built circuits of the crawl ``key``'s Tor clients at every scrape."""
    clients = list(endpoints)
    TOR_CIRCUITS.watch(key, lambda: circuit_samples(clients, pool, password))


def forget_circuits(key: str) -> None:
    TOR_CIRCUITS.forget(key)
