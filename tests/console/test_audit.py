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


def test_sealed_log_verifies_and_tampering_is_named(tmp_path: Path) -> None:
    from config.sections.evidence import EvidenceSettings
    from evidence.keys import init_key
    from evidence.sealer import Sealer

    key = init_key(tmp_path / "key.pem", tmp_path)
    evidence = EvidenceSettings(signing_key_file=key.path)
    log = AuditLog.for_data_dir(tmp_path, evidence)
    for i in range(5):
        log.record("login_failed", user=f"user{i}", address="127.0.0.1")
    Sealer.from_settings(evidence, [log.sealed_log]).seal_once()
    assert log.verify() is None
    status = log.head_status()
    assert (status["sealed"], status["unsealed"], status["heads"]) == (5, 0, 1)
    rows = log.path.read_bytes().splitlines(keepends=True)
    log.path.write_bytes(b"".join(rows[:2] + rows[3:]))
    problem = log.verify()
    assert problem is not None and "record 3: the sealed record 3 was deleted" in problem


def test_audit_view_shows_head_status(console, admin) -> None:  # type: ignore[no-untyped-def]
    from evidence.keys import init_key
    from evidence.sealer import Sealer

    settings = console.settings
    if not settings.evidence.signing_key_file.exists():
        init_key(settings.evidence.signing_key_file, settings.data_dir)
    log = AuditLog.for_data_dir(settings.data_dir, settings.evidence)
    log.record("search", user="root", query="sealed")
    Sealer.from_settings(settings.evidence, [log.sealed_log]).seal_once()
    data = admin.get("/api/audit").json()
    assert data["chain_ok"] and data["heads"]["heads"] >= 1
    assert data["heads"]["sealed"] >= 1 and data["heads"]["key_id"]
    page = admin.get("/audit")
    assert "signed heads" in page.text and "matches its signed heads" in page.text


async def test_torn_last_line_is_repaired_when_the_console_starts(tmp_path: Path) -> None:
    from config.sections.evidence import EvidenceSettings
    from evidence.keys import init_key

    key = init_key(tmp_path / "key.pem", tmp_path)
    evidence = EvidenceSettings(signing_key_file=key.path)
    log = AuditLog.for_data_dir(tmp_path, evidence)
    log.record("login", user="alice")
    log.record("search", user="alice", query="kept")
    with log.path.open("ab") as fh:
        fh.write(b'{"at":"2026-12-01T00:00:00+00:00","data":{"action":"sea')  # a crash mid-write
    assert "torn last line" in " ".join(log.check().notes)
    writer = AuditWriter(AuditLog.for_data_dir(tmp_path, evidence))
    writer.start()
    record = await writer.record("logout", user="alice")
    await writer.stop()
    assert record["seq"] == 3
    assert [r["data"]["action"] for r in log.records()] == ["login", "search", "logout"]
    assert list(log.path.parent.glob("audit.log.torn-*"))
    report = log.check()
    assert report.ok and report.sealed == 3 and not report.notes
