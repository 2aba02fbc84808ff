"""``heroes hashes import`` of a VICS export restores the list's settings (``"heroes.list"``)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from heroes.cli import main
from index.hashsets.membership import MembershipStore, membership_path

MD5, SHA1 = "0123456789abcdef0123456789abcdef", "ab" * 20


def heroes(data: Path, *args: str) -> object:
    return CliRunner().invoke(main, ["--data-dir", str(data), "hashes", *args])


def settings_of(data: Path, name: str) -> tuple[object, ...]:
    members = MembershipStore(membership_path(data))
    try:
        info = members.list_info(name)
    finally:
        members.close()
    return info.kind, info.source, info.trust, info.distance, info.state


def test_vics_export_settings_come_back_on_import_and_the_command_line_wins(
        tmp_path: Path) -> None:
    source = tmp_path / "unit-a.csv"
    source.write_text(f"value,type,id\n{MD5},md5,m1\n{SHA1},sha1,m1\n")
    first = tmp_path / "first"
    done = heroes(first, "import", str(source), "--list", "unit-a", "--source", "unit A",
                  "--trust", "high", "--distance", "12", "--state", "paused")
    assert done.exit_code == 0, done.output
    exported = tmp_path / "unit-a.json"
    done = heroes(first, "export", "unit-a", "--out", str(exported))
    assert done.exit_code == 0, done.output

    fresh = tmp_path / "fresh"
    done = heroes(fresh, "import", str(exported), "--list", "unit-a")
    assert done.exit_code == 0, done.output
    assert "2 values added or changed" in done.output
    assert settings_of(fresh, "unit-a") == ("flag", "unit A", "high", 12, "paused")
    listed = json.loads(heroes(fresh, "lists", "--json").output)
    assert {(r["source"], r["trust"], r["state"]) for r in listed} == {("unit A", "high",
                                                                        "paused")}

    other = tmp_path / "other"
    done = heroes(other, "import", str(exported), "--list", "unit-a", "--trust", "low",
                  "--state", "active")
    assert done.exit_code == 0, done.output
    assert settings_of(other, "unit-a") == ("flag", "unit A", "low", 12, "active")


def test_a_bad_setting_in_a_vics_file_is_named_and_the_values_kept(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({
        "heroes.list": {"name": "odd", "trust": "sky-high", "source": "unit B"},
        "value": [{"MediaID": "m1", "MD5": MD5}],
    }))
    data = tmp_path / "data"
    done = heroes(data, "import", str(path))
    assert done.exit_code == 1, done.output
    assert f"{path}: 'heroes.list': " in done.stderr and "'sky-high'" in done.stderr
    assert "1 values added or changed, 0 unchanged, 1 problems" in done.stdout
    assert settings_of(data, "odd")[2] == "unknown"
