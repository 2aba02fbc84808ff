"""The audit log: group commit keeps one valid chain; bad actions are refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from heroes.console.audit import AuditLog, AuditWriter


async def test_concurrent_records_share_fsyncs_and_keep_the_chain(tmp_path: Path) -> None:
    log = AuditLog.for_data_dir(tmp_path)
    calls: list[int] = []
    original = log.record_many

    def counting(entries: list[dict]) -> list[dict]:
        calls.append(len(entries))
        return original(entries)

    log.record_many = counting  # type: ignore[method-assign]
    writer = AuditWriter(log)
    writer.start()
    records = await asyncio.gather(
        *(
            writer.record("search", user="alice", address="127.0.0.1", query=f"q{i}")
            for i in range(50)
        )
    )
    await writer.stop()
    assert sorted(r["seq"] for r in records) == list(range(1, 51))
    assert sum(calls) == 50 and len(calls) < 50
    assert log.verify() is None
    assert {r["data"]["query"] for r in log.records()} == {f"q{i}" for i in range(50)}


def test_unknown_action_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'peek'"):
        AuditLog.for_data_dir(tmp_path).record("peek", user="alice")
