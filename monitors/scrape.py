"""BEP 33 DHT scrape: ask one DHT node for the Bloom filters of an infohash's seeds and peers.

libtorrent's Python bindings expose no direct DHT request, so this is one KRPC
``get_peers`` query with ``scrape=1`` and ``ro=1`` (read-only: we are no node) over UDP,
bencoded by libtorrent. A node that supports BEP 33 answers with ``BFsd`` and ``BFpe``,
two 2048-bit Bloom filters; :func:`estimate` turns one into a count. A node that does not,
or does not answer within ``timeout_s``, gives None. Reads no settings.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
from typing import Any

import libtorrent as lt

BITS = 2048


def estimate(bloom: bytes) -> int:
    """The number of distinct peers a 2048-bit, 2-hash Bloom filter holds (BEP 33)."""
    if len(bloom) * 8 != BITS:
        return 0
    zero = max(sum(8 - bin(b).count("1") for b in bloom), 1)
    m = float(BITS)
    return max(0, round(math.log(zero / m) / (2 * math.log(1 - 1 / m))))


class _Reply(asyncio.DatagramProtocol):
    def __init__(self, tid: bytes):
        self.tid = tid
        self.done: asyncio.Future[dict[bytes, Any]] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            msg = lt.bdecode(data)
        except RuntimeError:
            return
        if isinstance(msg, dict) and msg.get(b"t") == self.tid and not self.done.done():
            self.done.set_result(msg)


async def scrape(node: tuple[str, int], infohash: str,
                 timeout_s: float = 3.0) -> tuple[int, int] | None:
    """(seeds, peers) estimated by ``node`` for the v1 ``infohash``, or None."""
    tid = os.urandom(2)
    query = lt.bencode({b"t": tid, b"y": b"q", b"q": b"get_peers", b"a": {
        b"id": os.urandom(20), b"info_hash": bytes.fromhex(infohash), b"scrape": 1, b"ro": 1}})
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in node[0] else socket.AF_INET
    transport, proto = await loop.create_datagram_endpoint(lambda: _Reply(tid), family=family)
    try:
        transport.sendto(query, node)
        reply = await asyncio.wait_for(proto.done, timeout_s)
    except (TimeoutError, OSError):
        return None
    finally:
        transport.close()
    r = reply.get(b"r")
    if not isinstance(r, dict):
        return None
    seeds, peers = r.get(b"BFsd"), r.get(b"BFpe")
    if not isinstance(seeds, bytes) or not isinstance(peers, bytes):
        return None
    return estimate(seeds), estimate(peers)
