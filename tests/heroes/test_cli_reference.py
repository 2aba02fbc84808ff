"""Every command is documented, and docs/cli.md matches what ``--help`` says."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from heroes import __version__
from heroes.cli import main
from heroes.cli.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_every_command_has_help() -> None:
    def walk(cmd: click.Command, path: str) -> None:
        assert cmd.help, f"{path} has no help text"
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")

    walk(main, "heroes")


def test_docs_match_help() -> None:
    assert DOC.read_text() == render_reference(), (
        "docs/cli.md is stale: python -m heroes.cli.reference > docs/cli.md")


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output
