"""The systemd units under deploy/: each starts an existing command, hardened, without secrets."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from heroes.cli import main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("heroes-*.service"))
ROLES = {"crawl", "probe", "discover", "drain", "sender", "console"}
HARDENING = {
    "User": "heroes",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
    "StateDirectory": "heroes",
    "ReadWritePaths": "/var/lib/heroes",
    "EnvironmentFile": "/etc/heroes/heroes.env",
    "Restart": "on-failure",
}
# What a secret looks like in a unit: a secret-named variable given a value, or a URL with a
# password in it.
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|REDIS_URL)\s*=\s*\S", re.I)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def service(path: Path) -> dict[str, list[str]]:
    """The [Service] section; a key given several times keeps every value."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        if section == "Service":
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def resolve(args: list[str]) -> click.Command:
    """The command ``heroes ARGS`` runs, its options parsed as the CLI would (no callback)."""
    command: click.Command = main
    ctx = main.make_context("heroes", list(args))
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            break
        _, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None
        command = sub
        ctx = command.make_context(command.name, rest, parent=ctx)
    assert not ctx.args, f"arguments left over: {ctx.args!r}"
    return command


def test_there_is_a_unit_for_every_long_running_role() -> None:
    assert {p.stem.removeprefix("heroes-") for p in UNITS} == ROLES


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_unit_starts_an_existing_command(unit: Path) -> None:
    [exec_start] = service(unit)["ExecStart"]
    program, *args = shlex.split(exec_start)
    assert program == "/opt/heroes/bin/heroes"
    assert resolve(args).callback is not None


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_unit_is_hardened(unit: Path) -> None:
    values = service(unit)
    for key, expected in HARDENING.items():
        assert values.get(key) == [expected], f"{unit.name}: {key}={values.get(key)!r}"


@pytest.mark.parametrize("unit", [*UNITS, DEPLOY / "heroes.env.example"], ids=lambda p: p.name)
def test_no_unit_holds_a_secret(unit: Path) -> None:
    for number, raw in enumerate(unit.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if line.startswith(("#", ";")):
            continue
        assert not SECRET_NAME.search(line), f"{unit}:{number}: {line!r}"
        assert not URL_WITH_PASSWORD.search(line), f"{unit}:{number}: {line!r}"


def test_an_unknown_command_or_option_is_caught() -> None:
    with pytest.raises(click.UsageError):
        resolve(["index", "drain", "--no-such-option"])
    with pytest.raises(click.UsageError):
        resolve(["no-such-command"])


def test_the_units_parse_as_ini() -> None:
    for unit in [*UNITS, DEPLOY / "systemd" / "heroes.target"]:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(unit.read_text(encoding="utf-8"))
        assert "Unit" in parser and "Install" in parser


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_every_directive(tmp_path: Path) -> None:
    program = tmp_path / "heroes"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    copies = []
    for unit in [*UNITS, DEPLOY / "systemd" / "heroes.target"]:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/heroes/bin/heroes", str(program)))
        copies.append(str(copy))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *copies],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
