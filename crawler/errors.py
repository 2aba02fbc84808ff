"""Errors of the crawler; stem, SOCKS and Twisted failures are translated into these."""

from __future__ import annotations

from scrapy.exceptions import DownloadFailedError


class CrawlerError(Exception):
    """Base of the crawler's own errors."""


class TorUnavailable(CrawlerError):
    """A configured Tor client cannot be launched, reached or bootstrapped; the message says how
    to fix it."""


class SocksError(Exception):
    """Tor refused or failed a stream; ``code`` is the SOCKS5 reply code (Tor's extended codes
    0xF0-0xF7 describe onion-service failures). Use :func:`socks_error` to build one."""

    def __init__(self, code: int, host: str):
        self.code = code
        self.host = host
        super().__init__(
            f"SOCKS error 0x{code:02x} ({SOCKS_REPLIES.get(code, 'unknown')}) for {host!r}"
        )


class SocksCircuitError(SocksError, DownloadFailedError):
    """A circuit, descriptor fetch or rendezvous failed: worth a retry (RetryMiddleware retries
    DownloadFailedError) and, repeated, a NEWNYM."""


class SocksHostError(SocksError):
    """The address itself is refused (invalid, needs client auth...): retrying cannot help."""


# Codes that say "this circuit or descriptor went wrong", not "this host is invalid".
CIRCUIT_CODES = frozenset({0x01, 0x04, 0x06, 0xF0, 0xF2, 0xF3, 0xF7})


def socks_error(code: int, host: str) -> SocksError:
    return (SocksCircuitError if code in CIRCUIT_CODES else SocksHostError)(code, host)


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
