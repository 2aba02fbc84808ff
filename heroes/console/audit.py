"""The console's audit log: who searched, viewed, exported, acknowledged or logged in, and when.

A hash-chained :class:`~index.chainlog.ChainLog` (the same chaining as the evidence log) at
``<data_dir>/audit/audit.log``. Each record's ``data`` holds ``user``, ``action``,
``address`` and action details (the query of a search, the document of a view). Reads no
settings beyond the data directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from index.chainlog import ChainLog, ChainProblem, verify_file

ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "search",
    "view",
    "export",
    "acknowledge",
    "import",
    "purge",
    "user_add",
    "user_remove",
    "audit_view",
)


def entry(action: str, *, user: str, address: str = "", **details: Any) -> dict[str, Any]:
    """One audit record's data; ``None`` details are left out."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    data = {"action": action, "user": user, "address": address}
    data.update({k: v for k, v in details.items() if v is not None})
    return data


class AuditLog:
    """Append and read audit records."""

    def __init__(self, path: Path):
        self.path = path
        self._log = ChainLog(path)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> AuditLog:
        return cls(Path(data_dir) / "audit" / "audit.log")

    def record(
        self, action: str, *, user: str, address: str = "", **details: Any
    ) -> dict[str, Any]:
        return self._log.append(entry(action, user=user, address=address, **details))

    def record_many(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append prepared entries (see :func:`entry`) with one fsync."""
        return self._log.append_many(entries)

    def records(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        for record in self._log.records():
            if since is None or datetime.fromisoformat(record["at"]) >= since:
                yield record

    def tail(
        self, limit: int = 200, *, action: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` records (newest first), optionally of one action or user."""
        kept: list[dict[str, Any]] = []
        for record in self._log.records():
            data = record.get("data", {})
            if action and data.get("action") != action:
                continue
            if user and data.get("user") != user:
                continue
            kept.append(record)
            if len(kept) > limit:
                kept.pop(0)
        return kept[::-1]

    def verify(self) -> ChainProblem | None:
        if not self.path.exists():
            return None
        return verify_file(self.path)


class AuditWriter:
    """Group commit for a busy console: concurrent requests share one append and one fsync.

    :meth:`record` returns only once its record is on disk, so an access is never answered
    before it is logged; a failed write fails every request of that batch.
    """

    def __init__(self, log: AuditLog):
        self.log = log
        self._pending: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def record(
        self, action: str, *, user: str, address: str = "", **details: Any
    ) -> dict[str, Any]:
        if self._task is None or self._task.done():
            return await asyncio.to_thread(
                self.log.record, action, user=user, address=address, **details
            )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((entry(action, user=user, address=address, **details), future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    written = await asyncio.to_thread(self.log.record_many, [d for d, _ in batch])
                except Exception as exc:  # every waiting request learns it was not logged
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for (_, future), record in zip(batch, written, strict=True):
                        if not future.done():
                            future.set_result(record)
            if self._stopping and not self._pending:
                return
