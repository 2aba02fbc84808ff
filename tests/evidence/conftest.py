"""Shared fixtures: a signing key and sealed logs in a temporary installation."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.keys import SigningKey, init_key


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def key(tmp_path: Path, data_dir: Path) -> SigningKey:
    return init_key(tmp_path / "keys" / "signing.pem", data_dir)


@pytest.fixture
def other_key(tmp_path: Path) -> SigningKey:
    return init_key(tmp_path / "other" / "signing.pem", tmp_path / "other-data")
