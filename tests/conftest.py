"""Fixtures shared by every test package: settings on a private data directory, and a lab
Redis server of the test's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from config import Settings, load_settings
from heroes.lab import redis as lab_redis


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build settings through the production loader, on a data dir under tmp_path."""

    def build(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", str(tmp_path / "data"))
        return load_settings(None, environ={}, overrides=overrides)

    return build


class LabRedis(NamedTuple):
    dir: Path
    url: str
    port: int

    def stop(self) -> None:
        lab_redis.down(self.dir)

    def start_again(self) -> None:
        """The same server back on the same port, with what it had saved."""
        lab_redis.up(self.dir, port=self.port)


def start_lab_redis(lab_dir: Path) -> LabRedis:
    try:
        info = lab_redis.up(lab_dir)
    except Exception as exc:
        pytest.fail(f"lab redis did not start: {exc}")
    return LabRedis(lab_dir, str(info["url"]), int(info["port"]))


@pytest.fixture
def redis_lab(tmp_path: Path) -> Iterator[LabRedis]:
    """A Redis server on loopback for this test alone, stopped after it."""
    server = start_lab_redis(tmp_path / "redis-lab")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_lab: LabRedis) -> str:
    return redis_lab.url
