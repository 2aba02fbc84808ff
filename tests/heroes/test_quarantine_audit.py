"""``heroes hashes quarantine release|remove`` are audited like the console's buttons."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from documents import Page
from documents.page import Media
from heroes.cli import main
from heroes.console.audit import AuditLog
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.hashsets.quarantine import FloodHit

NOW = "2026-11-29T12:00:00+00:00"
HOT, WARM = "ab" * 16, "cd" * 16


def quarantine(data: Path) -> None:
    """Both values quarantined: each hit twice with room for one hit."""
    members = MembershipStore(membership_path(data))
    try:
        members.upsert([Entry("lab", "md5", v, "", "e", NOW) for v in (HOT, WARM)])
        for value in (HOT, WARM):
            hits = [FloodHit("md5", value, Page(
                url=f"http://auditmarket.onion/{value}/{n}", fetched_at=NOW,
                media=[Media(url="http://auditmarket.onion/a.jpg", md5=value)]), ("lab",))
                for n in range(2)]
            members.quarantine.record(hits, time.time(), flood_hits=1, window_s=3600)
        assert {q.value for q in members.quarantine.entries()} == {HOT, WARM}
    finally:
        members.close()


def test_release_and_remove_from_the_command_line_are_audited(tmp_path: Path) -> None:
    data = tmp_path / "data"
    quarantine(data)
    runner = CliRunner()
    base = ["--data-dir", str(data), "hashes", "quarantine"]
    released = runner.invoke(main, [*base, "release", HOT])
    assert released.exit_code == 0, released.output
    removed = runner.invoke(main, [*base, "remove", WARM])
    assert removed.exit_code == 0, removed.output
    audit = AuditLog.for_data_dir(data)
    records = {r["data"]["action"]: r["data"] for r in audit.tail(10)}
    assert records["quarantine_release"]["target"] == f"md5:{HOT}"
    assert records["quarantine_release"]["released"] == 1
    assert records["quarantine_remove"]["target"] == f"md5:{WARM}"
    assert records["quarantine_remove"]["removed_from"] == ["lab"]
