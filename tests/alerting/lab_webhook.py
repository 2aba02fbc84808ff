"""A lab webhook receiver on 127.0.0.1 (aiohttp) that checks the signature as a case tool would.

It accepts a POST only when ``X-Heroes-Signature`` is the HMAC-SHA256 of
``<X-Heroes-Timestamp>.<body>`` under its own key and the timestamp is recent; anything else
gets 401 and is counted as refused. Accepted bodies are kept with their delivery ids.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from alerting.webhook import DELIVERY, SIGNATURE, TIMESTAMP, verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    key: bytes
    port: int = 0
    accepted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify(self.key, request.headers.get(TIMESTAMP, ""), body,
                    request.headers.get(SIGNATURE, ""), now=time.time())
        if not ok:
            self.refused += 1
            return web.Response(status=401, text="bad signature")
        self.accepted.append((request.headers.get(DELIVERY, ""), json.loads(body)))
        return web.Response(status=204)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        if not self.port:
            self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
