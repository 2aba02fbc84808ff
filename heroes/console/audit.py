"""The console's audit log: who searched, viewed, exported, acknowledged or logged in, and when.

A sealed log (:class:`evidence.sealedlog.SealedLog`, the same sealing as the probes'
evidence logs) at ``<data_dir>/audit/audit.log``, named ``audit`` in its signed heads. Each
record's ``data`` holds ``user``, ``action``, ``address`` and action details (the query of a
search, the document of a view). While the console runs, :class:`AuditWriter` also runs
the sealer of the log (a signed head every ``evidence.head_interval_s`` and at stop). Reads
the data directory and the ``evidence`` settings section.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.sections.evidence import EvidenceSettings
from evidence.check import LogReport, check_log, trusted_keys
from evidence.errors import EvidenceError
from evidence.keys import KeyChain, chain_path, load_signing_key
from evidence.registry import AUDIT, audit_log_path, open_log
from evidence.sealer import Sealer

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
    "session_import",
    "session_remove",
    "session_use",
    "assign",
    "release",
    "hit_decision",
    "quarantine_release",
    "quarantine_remove",
)


def entry(action: str, *, user: str, address: str = "", **details: Any) -> dict[str, Any]:
    """One audit record's data; ``None`` details are left out."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    data = {"action": action, "user": user, "address": address}
    data.update({k: v for k, v in details.items() if v is not None})
    return data


class AuditLog:
    """Append, read and check audit records."""

    def __init__(self, path: Path, evidence: EvidenceSettings | None = None,
                 data_dir: Path | None = None):
        self.path = path
        self.evidence = evidence or EvidenceSettings()
        self.data_dir = Path(data_dir) if data_dir is not None else path.parent.parent
        self._log = open_log(self.data_dir, AUDIT, path)

    @classmethod
    def for_data_dir(cls, data_dir: Path, evidence: EvidenceSettings | None = None) -> AuditLog:
        return cls(audit_log_path(data_dir), evidence, Path(data_dir))

    @property
    def sealed_log(self) -> Any:
        return self._log

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

    def check(self) -> LogReport:
        """The log against its heads, trusting the installation's key and its hand-overs."""
        chain = KeyChain.load(chain_path(self.data_dir))
        try:
            anchor = load_signing_key(self.evidence.signing_key_file).public
        except EvidenceError:
            trusted = {}
        else:
            trusted = trusted_keys(chain, anchor)
        report = check_log(AUDIT, self.path, trusted)
        if not trusted and report.heads == 0 and any(
                "not trusted" in p for p in report.problems):
            report.problems.insert(0, f"no signing key at {self.evidence.signing_key_file}: "
                                      "the heads cannot be checked")
        return report

    def verify(self) -> str | None:
        """The problems of :meth:`check` in one line, or None when the log holds."""
        report = self.check()
        return "; ".join(report.problems) if report.problems else None

    def head_status(self) -> dict[str, Any]:
        """What the console's audit view shows about sealing."""
        report = self.check()
        head = self._log.last_head() if self._log.heads_path.exists() else None
        return {
            "ok": report.ok,
            "problems": report.problems,
            "records": report.records,
            "sealed": report.sealed,
            "unsealed": report.unsealed,
            "heads": report.heads,
            "newest_head_at": (datetime.fromtimestamp(head.timestamp_ms / 1000, UTC)
                               .isoformat(timespec="seconds") if head else ""),
            "key_id": head.key_id if head else "",
            **_follower_status(self._log),
        }


def _follower_status(log: Any) -> dict[str, Any]:
    from evidence.tsa import timestamp_status
    from evidence.witness import witness_status

    return {**timestamp_status(log), **witness_status(log)}


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
        self.sealer = Sealer.from_settings(log.evidence, [log.sealed_log], data_dir=log.data_dir)
        self._seal_stop = asyncio.Event()
        self._seal_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")
        self._seal_task = asyncio.create_task(self.sealer.run(self._seal_stop),
                                              name="audit-sealer")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._seal_stop.set()
        if self._seal_task is not None:
            await self._seal_task
        await asyncio.to_thread(self.sealer.close)  # the clean-stop tree head

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
