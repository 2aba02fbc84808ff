"""The ``heroes`` process runs the cyclic collector at its own thresholds; a test process that
calls the command line in itself keeps the interpreter's."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from click.testing import CliRunner

from heroes.cli import main
from telemetry.python_heap import THRESHOLDS

ROOT = Path(__file__).resolve().parents[2]
SHOW = textwrap.dedent("""
    import gc, sys
    sys.argv = ["heroes", "--version"]
    from heroes.cli import entry
    try:
        entry()
    except SystemExit:
        print(gc.get_threshold())
""")


def test_the_heroes_process_collects_at_its_own_thresholds() -> None:
    shown = subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, capture_output=True,
                           text=True, timeout=120, check=True)
    assert shown.stdout.strip().splitlines()[-1] == str(THRESHOLDS)
    assert gc.get_threshold() != THRESHOLDS


def test_the_executable_and_python_m_go_through_the_entry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["heroes"] == "heroes.cli:entry"
    assert "entry()" in (ROOT / "heroes" / "cli" / "__main__.py").read_text()


def test_the_command_line_called_in_a_process_leaves_its_collector_alone() -> None:
    before = gc.get_threshold()
    assert CliRunner().invoke(main, ["--version"]).exit_code == 0
    assert gc.get_threshold() == before
