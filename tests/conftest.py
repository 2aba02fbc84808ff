"""Fixtures shared by every test package: settings on a private data directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build settings through the production loader, on a data dir under tmp_path."""

    def build(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", str(tmp_path / "data"))
        return load_settings(None, environ={}, overrides=overrides)

    return build
