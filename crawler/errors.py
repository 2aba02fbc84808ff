"""Errors of the crawler; stem, SOCKS and Twisted failures are translated into these.

A SOCKS reply from Tor is classified by :func:`socks_error` into one of three kinds
(Tor's extended codes 0xF0-0xF7 need the ``ExtendedErrors`` flag on the SocksPort, which
launched clients and the lab's client get; an attached client must have it too):

* ``circuit`` (:class:`SocksCircuitError`): the circuit went wrong (general failure, network
  or host unreachable, TTL expired). Retried after a back-off; repeated, it is what makes a
  NEWNYM due on that Tor client.
* ``down`` (:class:`OnionServiceDown`): the service is not reachable now (descriptor not
  found, introduction failed or timed out, rendezvous failed, its port refused). The host
  backs off; never a NEWNYM, which would purge every onion's state on that client and
  cannot bring a service back.
* ``refused`` (:class:`OnionServiceRefused`): the address cannot be crawled as it is (bad
  address, descriptor invalid, client authorization missing or wrong, refused by rule).
  Treated like ``down`` for backing off; retrying soon cannot help.
"""

from __future__ import annotations

from typing import Literal

from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError

SocksKind = Literal["circuit", "down", "refused"]


class CrawlerError(Exception):
    """Base of the crawler's own errors."""


class TorUnavailable(CrawlerError):
    """A configured Tor client cannot be launched, reached or bootstrapped; the message says how
    to fix it."""


class SocksError(Exception):
    """Tor refused or failed a stream; ``code`` is the SOCKS5 reply code and ``kind`` what it
    means for the crawl (see the module docstring). Use :func:`socks_error` to build one."""

    kind: SocksKind = "refused"

    def __init__(self, code: int, host: str):
        self.code = code
        self.host = host
        super().__init__(
            f"SOCKS error 0x{code:02x} ({SOCKS_REPLIES.get(code, 'unknown')}) for {host!r}"
        )


class SocksCircuitError(SocksError, DownloadFailedError):
    """The circuit failed: worth a retry (RetryMiddleware retries DownloadFailedError) and,
    repeated, a NEWNYM."""

    kind: SocksKind = "circuit"


class SocksHostError(SocksError):
    """The service itself failed or refused: the host backs off; no retry now, no NEWNYM."""


class OnionServiceDown(SocksHostError):
    """The service is not reachable now (offline, descriptor withdrawn, overloaded)."""

    kind: SocksKind = "down"


class OnionServiceRefused(SocksHostError):
    """The address is not crawlable as it is (invalid, needs client authorization...)."""

    kind: SocksKind = "refused"


class ConnectTimeout(CrawlerError, DownloadTimeoutError):
    """Opening a stream to ``host`` took longer than its connect timeout (``timeout_s``).
    Retried (it is a DownloadTimeoutError); the host's connect timeout grows."""

    def __init__(self, host: str, timeout_s: float):
        self.host = host
        self.timeout_s = timeout_s
        super().__init__(f"opening a stream to {host!r} took more than {timeout_s:g} s")


CIRCUIT_CODES = frozenset({0x01, 0x03, 0x04, 0x06})
SERVICE_DOWN_CODES = frozenset({0x05, 0xF0, 0xF2, 0xF3, 0xF7})

SOCKS_REPLIES = {
    0x01: "general failure",
    0x02: "not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
    0xF0: "onion service descriptor not found",
    0xF1: "onion service descriptor invalid",
    0xF2: "onion service introduction failed",
    0xF3: "onion service rendezvous failed",
    0xF4: "onion service needs client authorization",
    0xF5: "onion service client authorization wrong",
    0xF6: "invalid onion address",
    0xF7: "onion service introduction timed out",
}


def socks_kind(code: int) -> SocksKind:
    """What a SOCKS reply code means for the crawl; an unknown code is never a circuit
    failure (it must not cost every other onion a NEWNYM)."""
    if code in CIRCUIT_CODES:
        return "circuit"
    if code in SERVICE_DOWN_CODES:
        return "down"
    return "refused"


_CLASSES: dict[SocksKind, type[SocksError]] = {
    "circuit": SocksCircuitError,
    "down": OnionServiceDown,
    "refused": OnionServiceRefused,
}


def socks_error(code: int, host: str) -> SocksError:
    return _CLASSES[socks_kind(code)](code, host)
