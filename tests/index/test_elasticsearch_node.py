"""The test-node helper's pure parts: JDK discovery, version checks, the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from heroes.lab.elasticsearch_node import (
    NodeError,
    _main,
    _maven_reason,
    cached_versions,
    fetch,
    find_jdk,
    start_node,
)


def _jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("")
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


def test_find_jdk_picks_the_newest_21_or_later(tmp_path: Path) -> None:
    _jdk(tmp_path, "java-17-openjdk-amd64", "17.0.9")
    want = _jdk(tmp_path, "temurin-25-jdk-amd64", "25.0.3")
    _jdk(tmp_path, "java-21-openjdk-amd64", "21.0.2")
    assert find_jdk(tmp_path) == want


def test_find_jdk_says_what_is_missing(tmp_path: Path) -> None:
    _jdk(tmp_path, "java-17-openjdk-amd64", "17.0.9")
    with pytest.raises(NodeError, match=r"no JDK 21\+ under"):
        find_jdk(tmp_path)


@pytest.mark.parametrize("version,message", [
    ("9.3", "MAJOR.MINOR.PATCH"),
    ("8.19.4", "talks only to Elasticsearch 9.x"),
])
def test_fetch_refuses_versions_it_cannot_use(tmp_path: Path, version: str, message: str) -> None:
    with pytest.raises(NodeError, match=message):
        fetch(version, tmp_path)


def test_the_cache_is_reused_without_maven(tmp_path: Path) -> None:
    home = tmp_path / "elasticsearch-9.3.2"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "elasticsearch").write_text("")
    (tmp_path / "elasticsearch-9.1.0").mkdir()  # not unpacked: ignored
    assert cached_versions(tmp_path) == ["9.3.2"]
    assert fetch("9.3.2", tmp_path) == home.resolve()


def test_start_without_a_fetched_node_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="make es-node"):
        start_node(tmp_path / "empty-cache", tmp_path / "data")


def test_maven_reason_finds_the_telling_line() -> None:
    output = ("\x1b[1;31m[ERROR]\x1b[m Failed to execute goal x: Could not find artifact a:b:1\n"
              "[ERROR] \n[ERROR] To see the full stack trace of the errors, re-run Maven\n")
    assert _maven_reason(output).startswith("Failed to execute goal x: Could not find artifact")


def test_command_line_exits_non_zero_with_the_reason(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    assert _main(["fetch", "--version", "banana", "--cache", str(tmp_path)]) == 3
    assert "'banana'" in capsys.readouterr().err
