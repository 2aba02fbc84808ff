"""Tor's SOCKS replies, classified: every code, what the handshake raises for it, and which
ones may cost a NEWNYM (circuit failures only, rate-limited per client)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError
from scrapy.settings import Settings as ScrapySettings
from scrapy.settings import default_settings
from scrapy.spiders import Spider
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.misc import load_object
from scrapy.utils.reactor import install_reactor, is_reactor_installed
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from config import load_settings
from crawler.errors import (
    ConnectTimeout,
    OnionServiceDown,
    OnionServiceRefused,
    SocksCircuitError,
    SocksError,
    SocksHostError,
    socks_error,
    socks_kind,
)
from crawler.handlers.socks5 import _Socks5Factory
from crawler.settings import scrapy_settings
from crawler.tor.client import TorEndpoint, socks_port_flags
from crawler.tor.health import CircuitHealth

HOST = "x" * 56 + ".onion"
# Every reply code Tor sends (RFC 1928 and Tor's ExtendedErrors, prop 304), and its kind.
EXPECTED = {
    0x01: "circuit",  # general failure
    0x02: "refused",  # not allowed by ruleset
    0x03: "circuit",  # network unreachable
    0x04: "circuit",  # host unreachable
    0x05: "down",  # connection refused: the service's port is closed
    0x06: "circuit",  # TTL expired: the stream timed out on its circuit
    0x07: "refused",  # command not supported
    0x08: "refused",  # address type not supported
    0xF0: "down",  # descriptor not found
    0xF1: "refused",  # descriptor invalid
    0xF2: "down",  # introduction failed
    0xF3: "down",  # rendezvous failed
    0xF4: "refused",  # missing client authorization
    0xF5: "refused",  # wrong client authorization
    0xF6: "refused",  # bad address
    0xF7: "down",  # introduction timed out
}


def _retried(exc: Exception) -> bool:
    retry = tuple(
        load_object(x) if isinstance(x, str) else x for x in default_settings.RETRY_EXCEPTIONS
    )
    return isinstance(exc, retry)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_every_code_has_its_kind_and_class(code: int) -> None:
    exc = socks_error(code, HOST)
    assert socks_kind(code) == exc.kind == EXPECTED[code]
    assert f"0x{code:02x}" in str(exc) and "unknown" not in str(exc) and HOST in str(exc)
    if EXPECTED[code] == "circuit":
        assert isinstance(exc, SocksCircuitError) and isinstance(exc, DownloadFailedError)
        assert _retried(exc)
    else:
        assert isinstance(exc, SocksHostError)
        assert isinstance(exc, OnionServiceDown if EXPECTED[code] == "down"
                          else OnionServiceRefused)
        # Scrapy's RetryMiddleware does not retry it: the host backs off instead.
        assert not _retried(exc)


@pytest.mark.parametrize("code", [0x09, 0x7F, 0xF8, 0xFF])
def test_an_unknown_code_is_never_a_circuit_failure(code: int) -> None:
    exc = socks_error(code, HOST)
    assert exc.kind == "refused" and not isinstance(exc, SocksCircuitError)
    assert "unknown" in str(exc)


def _handshake(reply: bytes | None, advance: float = 0.0) -> Any:
    """Run the SOCKS5 client handshake against ``reply`` to CONNECT; the result or failure."""
    clock = Clock()
    factory = _Socks5Factory(clock, Factory.forProtocol(lambda: None), HOST, 80, b"h-1",
                             b"x", timeout=30.0)
    outcome: list[Any] = []
    factory.connected.addBoth(outcome.append)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"\x05\x02")  # username/password method accepted
    protocol.dataReceived(b"\x01\x00")  # credentials accepted
    assert transport.value().endswith(b"\x03" + bytes([len(HOST)]) + HOST.encode() + b"\x00P")
    if reply is not None:
        protocol.dataReceived(reply)
    clock.advance(advance)
    return outcome[0] if outcome else None


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_the_handshake_raises_the_classified_error(code: int) -> None:
    outcome = _handshake(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
    assert isinstance(outcome, Failure) and isinstance(outcome.value, SocksError)
    assert (outcome.value.code, outcome.value.kind) == (code, EXPECTED[code])


def test_a_handshake_that_does_not_finish_is_a_connect_timeout() -> None:
    assert _handshake(None, advance=29.0) is None
    outcome = _handshake(None, advance=30.5)
    assert isinstance(outcome, Failure) and isinstance(outcome.value, ConnectTimeout)
    assert outcome.value.timeout_s == 30.0 and isinstance(outcome.value, DownloadTimeoutError)


def test_newnym_is_rate_limited_per_client() -> None:
    health = CircuitHealth(clients=2, threshold=2, min_interval_s=60.0)
    assert [health.failure(0, 0.0), health.failure(0, 1.0)] == [False, True]
    # Due again after two more failures, but the last NEWNYM was 9 s ago: held back...
    assert [health.failure(0, 5.0), health.failure(0, 10.0)] == [False, False]
    assert health.held_back[0] == 1
    # ...and the first failure after the interval sends it.
    assert health.failure(0, 61.5) is True
    # The other client has its own count and its own interval.
    assert [health.failure(1, 11.0), health.failure(1, 12.0)] == [False, True]


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="min_interval_s"):
        CircuitHealth(clients=1, threshold=1, min_interval_s=-1)


def test_socks_port_flags_are_read_per_port() -> None:
    lines = ["127.0.0.1:9050 IsolateSOCKSAuth", "127.0.0.1:9150 ExtendedErrors IsolateSOCKSAuth"]
    assert socks_port_flags(lines, 9150) == {"ExtendedErrors", "IsolateSOCKSAuth"}
    assert socks_port_flags(lines, 9050) == {"IsolateSOCKSAuth"}
    assert socks_port_flags(lines, 9999) is None


# --- the download handler's decision, built through its production constructor ---------


def _handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **tor: Any) -> Any:
    if not is_reactor_installed():
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from crawler.handlers import socks

    settings = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path), "tor": tor})
    endpoints = [TorEndpoint("127.0.0.1", 9, 19), TorEndpoint("127.0.0.1", 10, 20)]
    crawler = Crawler(Spider, ScrapySettings(
        scrapy_settings(settings, endpoints, job="t", job_dir=tmp_path / "job")))
    crawler.stats = MemoryStatsCollector(crawler)
    sent: list[int | None] = []
    monkeypatch.setattr(socks.threads, "deferToThread",
                        lambda fn, endpoint, password: sent.append(endpoint.control_port))
    handler = socks.SocksDownloadHandler(crawler)
    handler.sent = sent
    return handler


@pytest.mark.parametrize("code", sorted(c for c, kind in EXPECTED.items() if kind != "circuit"))
def test_host_level_errors_never_send_newnym(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    handler = _handler(tmp_path, monkeypatch, newnym_after_failures=1)
    for _ in range(20):
        handler._socks_failure(0, socks_error(code, HOST))
    assert handler.sent == []
    stats = handler._stats.get_stats()
    assert stats[f"heroes/socks/error_0x{code:02x}"] == 20
    assert "heroes/tor/newnym" not in stats


def test_circuit_failures_send_newnym_to_their_client_rate_limited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="crawler.handlers.socks")
    handler = _handler(tmp_path, monkeypatch, newnym_after_failures=3, newnym_min_interval_s=600)
    for _ in range(2):
        handler._socks_failure(1, socks_error(0x01, HOST))
    handler._socks_failure(1, socks_error(0xF0, HOST))  # a dead onion in between: not counted
    assert handler.sent == []
    handler._socks_failure(1, socks_error(0x06, HOST))
    assert handler.sent == [20]  # client 1's control port
    [logged] = [r.getMessage() for r in caplog.records if "NEWNYM" in r.getMessage()]
    assert "tor client 1" in logged and "3 circuit failures in a row" in logged
    assert "0x06" in logged  # the last failure, as the reason
    for _ in range(9):  # three more due within the interval: held back
        handler._socks_failure(1, socks_error(0x01, HOST))
    assert handler.sent == [20]
    stats = handler._stats.get_stats()
    assert stats["heroes/tor/newnym"] == 1 and stats["heroes/tor/newnym_held_back"] >= 3
    assert stats["heroes/socks/circuit"] == 12 and stats["heroes/socks/down"] == 1
