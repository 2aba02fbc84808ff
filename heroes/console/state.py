"""The console's shared state: the application keys and the lazily refreshed reader.

Kept apart from ``app`` so that request handlers can reach the state without importing the
module that builds the application (and its routes).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote, urlsplit

from aiohttp import web

from config import Settings
from documents.fields import identifier_type
from heroes.console.audit import AuditLog, AuditWriter
from identifiers import display
from index.backends.base import Backend
from index.store import Store

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
AUDIT = web.AppKey("audit", AuditLog)
AUDIT_WRITER = web.AppKey("audit_writer", AuditWriter)
READER = web.AppKey("reader", "Reader")


def segment(value: object) -> str:
    """One URL path segment: everything quoted, '/' included."""
    return quote(str(value), safe="")


def host_of(url: str) -> str:
    """The host of a URL, lower-cased ('' when it has none): links of pages are data, not links."""
    try:
        return (urlsplit(str(url)).hostname or "").lower()
    except ValueError:
        return ""


def shown(value: object, entity: str) -> str:
    """How a page entity's value is shown: its type's display form (EIP-55 for eth)."""
    type_name = identifier_type("page", f"entities.{entity}")
    return display(type_name, str(value)) if type_name else str(value)


class Reader:
    """The open read backend, refreshed lazily so new commits show within the reload period."""

    def __init__(self, backend: Backend, reload_s: float):
        self.backend = backend
        self.reload_s = reload_s
        self._last = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> Backend:
        if time.monotonic() - self._last >= self.reload_s:
            async with self._lock:
                if time.monotonic() - self._last >= self.reload_s:
                    await self.backend.refresh()
                    self._last = time.monotonic()
        return self.backend
