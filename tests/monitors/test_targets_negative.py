"""Probe targets from hash lists: negative and paused lists never become targets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from config import load_settings
from documents import Torrent, utcnow
from heroes.cli import main
from index.store import Store
from monitors.targets import Target, listed_targets, targets_from_index

FLAGGED, INNOCUOUS, PAUSED = "ab" * 20, "cd" * 20, "ef" * 20


def test_listed_targets_leave_out_negative_values_and_paused_lists() -> None:
    docs = [
        {"value": FLAGGED, "list": "a"},  # older document: flag, active
        {"value": INNOCUOUS, "list": "a", "list_kind": "flag", "list_state": "active"},
        {"value": INNOCUOUS.upper(), "list": "neg", "list_kind": "negative"},
        {"value": PAUSED, "list": "p", "list_kind": "flag", "list_state": "paused"},
        {"value": FLAGGED, "list": "b", "list_kind": "negative", "list_state": "paused"},
        {"value": "not hex", "list": "a"},
    ]
    assert listed_targets(docs) == ([Target(FLAGGED, None, (), "hash-list")], {INNOCUOUS})


def _targets(data: Path) -> set[str]:
    store = Store(load_settings(None, environ={}, overrides={"data_dir": str(data)}))

    async def read() -> set[str]:
        async with store.reader() as backend:
            return {t.key for t in await targets_from_index(backend)}

    try:
        return asyncio.run(read())
    finally:
        store.close()


def test_probe_targets_follow_list_kind_and_state_through_the_index(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner()

    def heroes(*args: str) -> None:
        done = runner.invoke(main, ["--data-dir", str(data), *args])
        assert done.exit_code == 0, done.output

    watched = tmp_path / "watched.txt"
    watched.write_text(f"{FLAGGED}\n{INNOCUOUS}\n{PAUSED}\n")
    known = tmp_path / "known.txt"
    known.write_text(f"{INNOCUOUS}\n")
    heroes("hashes", "import", str(watched), "--type", "infohash")
    heroes("hashes", "import", str(known), "--type", "infohash", "--negative")
    # A page names the innocuous torrent: still not watched.
    named = Torrent(infohash=INNOCUOUS, first_seen=utcnow(), found_on=["http://lab.onion/"])
    store = Store(load_settings(None, environ={}, overrides={"data_dir": str(data)}))
    store.append([named])
    store.close()
    heroes("index", "drain")
    assert _targets(data) == {FLAGGED, PAUSED}

    heroes("hashes", "set", "watched", "--state", "paused")
    heroes("index", "drain")
    assert _targets(data) == set()

    heroes("hashes", "set", "watched", "--state", "active")
    heroes("hashes", "set", "known", "--state", "paused")
    heroes("index", "drain")
    assert _targets(data) == {FLAGGED, INNOCUOUS, PAUSED}
