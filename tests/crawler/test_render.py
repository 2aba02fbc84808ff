"""Rendering's own rules without a browser: which requests are refused, and the isolating SOCKS
relay (each onion its own Tor username, names passed unresolved, nothing but onions)."""

from __future__ import annotations

import asyncio
import struct

import pytest

from crawler.render.browser import blocked
from crawler.render.relay import IsolatingRelay
from crawler.tor.isolation import socks_username


@pytest.mark.parametrize(
    ("rtype", "url", "refused"),
    [
        ("image", "http://a.onion/x", True),
        ("media", "http://a.onion/clip", True),
        ("font", "http://a.onion/f", True),
        ("other", "http://a.onion/map.swf", True),
        ("xhr", "http://a.onion/pic.PNG?x=1", True),
        ("document", "http://a.onion/", False),
        ("script", "http://a.onion/app.js", False),
        ("fetch", "http://a.onion/api/notes", False),
    ],
)
def test_blocked(rtype: str, url: str, refused: bool) -> None:
    assert blocked(rtype, url) is refused


class FakeTor:
    """A SOCKS5 server that records username and destination, then echoes."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(3)
        writer.write(b"\x05\x02")
        _v, ulen = await reader.readexactly(2)
        user = (await reader.readexactly(ulen)).decode()
        await reader.readexactly((await reader.readexactly(1))[0])
        writer.write(b"\x01\x00")
        await reader.readexactly(4)
        name = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        (port,) = struct.unpack(">H", await reader.readexactly(2))
        self.seen.append((user, name, port))
        writer.write(b"\x05\x00\x00\x01" + b"\x00" * 6)
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()


async def _connect(port: int, host: bytes) -> tuple[bytes, asyncio.StreamReader,
                                                     asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x05\x01\x00")
    assert await reader.readexactly(2) == b"\x05\x00"
    writer.write(b"\x05\x01\x00\x03" + bytes([len(host)]) + host + struct.pack(">H", 80))
    reply = await reader.readexactly(10)
    return reply, reader, writer


def test_relay_isolates_onions_and_refuses_the_rest() -> None:
    async def run() -> None:
        tor = FakeTor()
        server = await asyncio.start_server(tor.handle, "127.0.0.1", 0)
        relay = IsolatingRelay("127.0.0.1", server.sockets[0].getsockname()[1])
        port = await relay.start()
        try:
            for host in (b"first.onion", b"second.onion"):
                reply, reader, writer = await _connect(port, host)
                assert reply[1] == 0
                writer.write(b"ping")
                assert await reader.readexactly(4) == b"ping"
                writer.close()
            reply, _r, w = await _connect(port, b"example.com")
            assert reply[1] == 2  # not allowed
            w.close()
        finally:
            await relay.close()
            server.close()
        assert tor.seen == [(socks_username("first.onion"), "first.onion", 80),
                            (socks_username("second.onion"), "second.onion", 80)]
        assert relay.refused == {"not an onion: example.com": 1}

    asyncio.run(asyncio.wait_for(run(), 20))
