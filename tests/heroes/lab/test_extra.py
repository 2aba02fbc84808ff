"""Without the ``heroes[lab]`` extra the lab says what to install instead of failing later."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from heroes.lab import extra, world
from heroes.lab.tor_config import LabSetupError


def _without_aiosmtpd(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "aiosmtpd" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_the_missing_extra_is_named_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert extra.missing() == []
    _without_aiosmtpd(monkeypatch)
    assert extra.missing() == ["aiosmtpd"]
    with pytest.raises(extra.LabExtraMissing, match=r"aiosmtpd \(the lab SMTP sink\).*"
                       r"pip install 'heroes\[lab\]'"):
        extra.require()


def test_lab_up_stops_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _without_aiosmtpd(monkeypatch)
    with pytest.raises(LabSetupError, match=r"heroes\[lab\]"):
        world.up(tmp_path / "lab", swarm=False)
    assert not (tmp_path / "lab").exists()
