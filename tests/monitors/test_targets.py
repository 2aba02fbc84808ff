"""Targets: parsing, saved state, and new targets picked up from the index while running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from documents import FlaggedHash, Torrent, utcnow
from index.store import Store
from monitors.errors import TargetError
from monitors.probe import Probe
from monitors.targets import Target, TargetState, merge_targets, parse_target
from tests.monitors.conftest import lab_peers_at, probe_settings, run_probe

V1 = "ab" * 20
V2 = "cd" * 32


def test_parse_target_kinds() -> None:
    assert parse_target(V1.upper()) == Target(V1, None, (), "cli")
    assert parse_target(V2).v2 == V2 and parse_target(V2).key == V2
    magnet = f"magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}&tr=http%3A%2F%2F127.0.0.1%3A6970%2Fa"
    t = parse_target(magnet)
    assert (t.v1, t.v2, t.trackers) == (V1, V2, ("http://127.0.0.1:6970/a",))
    assert t.v2_truncated == V2[:40]


@pytest.mark.parametrize("bad", ["", "abc", "g" * 40, "magnet:?dn=nothing"])
def test_parse_target_errors_quote_the_value(bad: str) -> None:
    with pytest.raises(TargetError) as err:
        parse_target(bad)
    assert repr(bad)[:20] in str(err.value)


def test_merge_folds_v2_only_entry_into_its_hybrid() -> None:
    merged = merge_targets([Target(None, V2), Target(V1, V2, ("t",)), Target(V1, None)])
    assert merged == [Target(V1, V2, ("t",), "cli")]


def test_state_round_trip_and_bad_file(tmp_path: Path) -> None:
    state = TargetState(tmp_path / "state.json")
    assert state.add(Target(V1, None, ("a",)))
    assert not state.add(Target(V1, V2, ("b",)))
    state.save()
    again = TargetState(tmp_path / "state.json")
    again.load()
    assert again.targets() == [Target(V1, V2, ("a", "b"), "cli")]
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(TargetError, match=r"state\.json: unreadable probe state"):
        again.load()


@pytest.mark.swarm
async def test_new_index_targets_are_watched_while_running(lab_swarm: dict[str, Any],
                                                           tmp_path: Path) -> None:
    settings = probe_settings(tmp_path, lab_swarm, listen_ip="127.0.0.55", announce=False,
                              dht=True, pex=False)
    v1_torrent, hybrid = lab_swarm["torrents"]
    written = False

    async def add_to_index(probe: Probe) -> None:
        nonlocal written
        if written or probe.snapshot()["elapsed_s"] < 1.5:
            return
        written = True
        store = Store(settings)
        store.append([
            FlaggedHash(value=v1_torrent["v1"], type="infohash", list="lab", added_at=utcnow()),
            Torrent(infohash=hybrid["v1"], infohash_v2=hybrid["v2"], magnet=hybrid["magnet"],
                    first_seen=utcnow(), found_on=["http://lab.onion/"]),
        ])
        async with store.writer() as drainer:
            await drainer.drain_all()
        store.close()

    probe = await run_probe(
        settings, targets=[], use_index=True, during=add_to_index, timeout=60,
        done=lambda p: written and all(lab_peers_at(p, t["v1"], 2)
                                       for t in (v1_torrent, hybrid)))
    assert set(probe.watcher.targets) == {v1_torrent["v1"], hybrid["v1"]}
    assert probe.watcher.targets[hybrid["v1"]].v2 == hybrid["v2"]
    origins = {r.origin for r in probe.state.records.values()}
    assert origins == {"hash-list", "torrent"}


def test_probe_command_rejects_a_bad_hash(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from heroes.cli import main

    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "probe", "--hash", "xyz",
                                       "--duration", "1"])
    assert result.exit_code == 2
    assert "--hash: not an infohash (40 or 64 hex digits) or magnet link: 'xyz'" in result.output
