"""A Twisted client endpoint that opens a TCP stream through a SOCKS5 server (Tor's SocksPort).

The destination host name is sent to the SOCKS server as a name (ATYP 3, "socks5h"): it is
never resolved locally, so no DNS query for an onion name can leave the machine. The
username/password sub-negotiation carries the per-onion isolation username. A handshake
that has not finished within ``timeout`` (Tor builds the rendezvous while it waits) fails
with :class:`crawler.errors.ConnectTimeout`; a refusal with the classified
:func:`crawler.errors.socks_error`. After the handshake the wrapped protocol (Twisted's
HTTP/1.1 client) talks over the same transport; this protocol only forwards bytes. Reads no
settings: the handler passes everything in.
"""

from __future__ import annotations

import struct
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionRefusedError as TxConnectionRefused
from twisted.internet.interfaces import IAddress, IDelayedCall
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from crawler.errors import ConnectTimeout, SocksError, socks_error

_GREETING_USERPASS = b"\x05\x01\x02"


class _Socks5Protocol(Protocol):
    def __init__(self, factory: _Socks5Factory):
        self._f = factory
        self._buf = b""
        self._state = "method"
        self._wrapped: Protocol | None = None
        self._timer: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self._timer = self._f.reactor.callLater(self._f.timeout, self._on_timeout)
        self.transport.write(_GREETING_USERPASS)

    def _on_timeout(self) -> None:
        self._timer = None
        self._fail(ConnectTimeout(self._f.host, self._f.timeout))
        self.transport.abortConnection()

    def _fail(self, error: Exception) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if not self._f.connected.called:
            self._f.connected.errback(Failure(error))

    def dataReceived(self, data: bytes) -> None:
        if self._wrapped is not None:
            self._wrapped.dataReceived(data)
            return
        self._buf += data
        try:
            self._advance()
        except SocksError as exc:
            self._fail(exc)
            self.transport.loseConnection()

    def _advance(self) -> None:
        if self._state == "method" and len(self._buf) >= 2:
            if self._buf[:2] != b"\x05\x02":
                raise socks_error(0x02, self._f.host)
            self._buf = self._buf[2:]
            user, password = self._f.username, self._f.password
            self.transport.write(
                b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password
            )
            self._state = "auth"
        if self._state == "auth" and len(self._buf) >= 2:
            if self._buf[1] != 0:
                raise socks_error(0x02, self._f.host)
            self._buf = self._buf[2:]
            name = self._f.host.encode("idna")
            self.transport.write(
                b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", self._f.port)
            )
            self._state = "connect"
        if self._state == "connect" and len(self._buf) >= 5:
            if self._buf[1] != 0:
                raise socks_error(self._buf[1], self._f.host)
            atyp = self._buf[3]
            size = 4 + (4 if atyp == 1 else 16 if atyp == 4 else 1 + self._buf[4]) + 2
            if len(self._buf) < size:
                return
            rest, self._buf = self._buf[size:], b""
            self._ready(rest)

    def _ready(self, rest: bytes) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        wrapped = self._f.wrapped.buildProtocol(self.transport.getPeer())
        if wrapped is None:
            self._fail(socks_error(0x01, self._f.host))
            self.transport.loseConnection()
            return
        self._wrapped = wrapped
        wrapped.makeConnection(self.transport)
        self._f.connected.callback(wrapped)
        if rest:
            wrapped.dataReceived(rest)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if self._wrapped is not None:
            self._wrapped.connectionLost(reason)
        else:
            self._fail(
                socks_error(0x01, self._f.host)
                if self._state != "method"
                else TxConnectionRefused(
                    string=f"SOCKS server closed the connection: {reason.value}"
                )
            )


class _Socks5Factory(Factory):
    def __init__(
        self,
        reactor: Any,
        wrapped: Factory,
        host: str,
        port: int,
        username: bytes,
        password: bytes,
        timeout: float,
    ):
        self.reactor = reactor
        self.wrapped = wrapped
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.timeout = timeout
        self.connected: Deferred[Protocol] = Deferred()

    def buildProtocol(self, addr: IAddress) -> Protocol:
        return _Socks5Protocol(self)


class Socks5ClientEndpoint:
    """``IStreamClientEndpoint``: a stream to ``host:port`` through the SOCKS5 server."""

    def __init__(
        self,
        reactor: Any,
        socks_host: str,
        socks_port: int,
        host: str,
        port: int,
        *,
        username: str,
        password: str = "x",
        timeout: float = 30.0,
    ):
        self._reactor = reactor
        self._tcp = TCP4ClientEndpoint(reactor, socks_host, socks_port, timeout=timeout)
        self._host = host
        self._port = port
        self._username = username.encode()
        self._password = password.encode()
        self._timeout = timeout

    def connect(self, protocolFactory: Factory) -> Deferred[Protocol]:
        factory = _Socks5Factory(
            self._reactor,
            protocolFactory,
            self._host,
            self._port,
            self._username,
            self._password,
            self._timeout,
        )
        d = self._tcp.connect(factory)
        d.addErrback(lambda failure: factory.connected.called or factory.connected.errback(failure))
        return factory.connected

    def __repr__(self) -> str:
        return f"Socks5ClientEndpoint({self._host}:{self._port})"
