"""``IsolatingRelay``: a local SOCKS5 server for Chromium that forwards to Tor per onion circuit.

Chromium's SOCKS5 client sends no username, so through Tor's SocksPort every onion would
share circuits. Chromium talks to this relay (127.0.0.1, an ephemeral port, no auth); the
relay opens the stream to Tor with the destination's own SOCKS username
(:func:`crawler.tor.isolation.socks_username`, the same as plain fetches), so each onion
keeps its own circuit. Names are passed on unresolved (ATYP domain); a destination that is
not an ``.onion`` name (or an IP literal) is refused unless ``allow_clearnet``: a rendered
page cannot pull anything from outside the scope. Counts streams per host. Reads no
settings (the renderer passes the Tor endpoint in).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import Counter

from crawler.tor.isolation import socks_username

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT_S = 30.0


class RelayRefused(Exception):
    pass


async def _read(reader: asyncio.StreamReader, n: int) -> bytes:
    return await reader.readexactly(n)


class IsolatingRelay:
    def __init__(self, socks_host: str, socks_port: int, *, allow_clearnet: bool = False):
        self.socks_host, self.socks_port = socks_host, socks_port
        self.allow_clearnet = allow_clearnet
        self.streams: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            host, port = await asyncio.wait_for(self._greet(reader, writer), HANDSHAKE_TIMEOUT_S)
            upstream_r, upstream_w = await asyncio.wait_for(
                self._open_tor(host, port), HANDSHAKE_TIMEOUT_S)
        except RelayRefused as exc:
            self.refused[str(exc)] += 1
            writer.write(b"\x05\x02\x00\x01" + b"\x00" * 6)  # connection not allowed
            await _close(writer)
            return
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            writer.write(b"\x05\x01\x00\x01" + b"\x00" * 6)  # general failure
            await _close(writer)
            return
        finally:
            if task is not None:
                self._tasks.discard(task)
        self.streams[host] += 1
        writer.write(b"\x05\x00\x00\x01" + b"\x00" * 6)
        await writer.drain()
        await asyncio.gather(_pipe(reader, upstream_w), _pipe(upstream_r, writer),
                             return_exceptions=True)

    async def _greet(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> tuple[str, int]:
        version, nmethods = await _read(reader, 2)
        if version != 5:
            raise ValueError("not SOCKS5")
        await _read(reader, nmethods)
        writer.write(b"\x05\x00")
        await writer.drain()
        _v, cmd, _r, atyp = await _read(reader, 4)
        if cmd != 1:
            raise RelayRefused("not CONNECT")
        if atyp != 3:
            # Chromium sends names for socks5://; an IP means something resolved locally.
            await _read(reader, (4 if atyp == 1 else 16) + 2)
            raise RelayRefused("IP destination")
        name = (await _read(reader, (await _read(reader, 1))[0])).decode("idna").lower()
        (port,) = struct.unpack(">H", await _read(reader, 2))
        if not name.endswith(".onion") and not self.allow_clearnet:
            raise RelayRefused(f"not an onion: {name}")
        return name, port

    async def _open_tor(self, host: str, port: int) -> tuple[asyncio.StreamReader,
                                                             asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.socks_host, self.socks_port)
        user, password = socks_username(host).encode(), b"x"
        writer.write(b"\x05\x01\x02")
        if await _read(reader, 2) != b"\x05\x02":
            raise OSError("Tor refused username authentication")
        writer.write(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
        if (await _read(reader, 2))[1] != 0:
            raise OSError("Tor refused the SOCKS username")
        name = host.encode("idna")
        writer.write(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        reply = await _read(reader, 4)
        if reply[1] != 0:
            raise OSError(f"Tor SOCKS error 0x{reply[1]:02x} for {host}")
        atyp = reply[3]
        size = 4 if atyp == 1 else 16 if atyp == 4 else (await _read(reader, 1))[0]
        await _read(reader, size + 2)
        return reader, writer


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await writer.wait_closed()
