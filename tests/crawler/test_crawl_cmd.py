"""``heroes crawl`` and ``heroes lab`` refuse bad input with a clear message before any work."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from heroes.cli import main
from identifiers.onion import onion_address

GOOD = onion_address(bytes(range(32)))


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), *args], env={})
    return result.exit_code, result.output


def test_bad_seed_file_names_file_and_line(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"http://{GOOD}/\nhttp://example.com/\n")
    code, out = _run(tmp_path, "crawl", "--seeds", str(seeds))
    assert code == 2
    assert f"{seeds}:2: 'http://example.com/': not an onion host" in out


def test_bad_seed_argument(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "crawl", "http://" + "a" * 56 + ".onion/")
    assert code == 2
    assert "argument 1" in out and "not a valid v3 onion address" in out


def test_no_seeds(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "crawl")
    assert code == 2 and "no seeds" in out


def test_bad_job_name(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "crawl", GOOD, "--job", "../x")
    assert code == 2 and "job name '../x'" in out


def test_lab_status_when_nothing_runs(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "lab", "status", "--dir", str(tmp_path / "lab"))
    assert code == 1 and '"running": false' in out
    code, out = _run(tmp_path, "lab", "down", "--dir", str(tmp_path / "lab"))
    assert code == 0 and "nothing was running" in out
