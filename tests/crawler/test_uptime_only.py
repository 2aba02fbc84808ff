"""The uptime-only hosts on the frontier store: what the scan sets is what every scheduler
reads, replaced whole, read again only when its version changed, and kept while the store is
unavailable."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.sections.frontier import FrontierSettings
from crawler import uptime_only
from crawler.frontier.sqlite_store import SqliteFrontierStore
from crawler.frontier.store import FrontierUnavailable
from crawler.uptime_only import UptimeOnly

A = "a" * 56 + ".onion"
B = "b" * 56 + ".onion"


def store(tmp_path: Path) -> SqliteFrontierStore:
    return SqliteFrontierStore(tmp_path / "job.sqlite", FrontierSettings(), host_cap=10,
                               host_concurrency=2)


def test_set_hosts_are_read_back_and_a_new_set_replaces_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uptime_only, "CHECK_EVERY_S", 0.0)
    scan, crawler = store(tmp_path), store(tmp_path)
    reader = UptimeOnly(crawler)
    assert reader.hosts() == frozenset()
    scan.set_uptime_only([B, A, A])
    assert reader.hosts() == {A, B}
    scan.set_uptime_only([A])
    assert reader.hosts() == {A}
    scan.set_uptime_only([])
    assert reader.hosts() == frozenset()
    assert not (tmp_path / "job.sqlite.uptime-only.json").exists()


def test_the_hosts_are_read_only_when_the_version_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uptime_only, "CHECK_EVERY_S", 0.0)
    frontier = store(tmp_path)
    frontier.set_uptime_only([A])
    reads: list[int] = []
    real = frontier.uptime_only_hosts

    def counted() -> frozenset[str]:
        reads.append(1)
        return real()

    monkeypatch.setattr(frontier, "uptime_only_hosts", counted)
    reader = UptimeOnly(frontier)
    assert reader.hosts() == {A} and reader.hosts() == {A}
    assert len(reads) == 1


def test_an_unavailable_store_keeps_the_last_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uptime_only, "CHECK_EVERY_S", 0.0)
    frontier = store(tmp_path)
    frontier.set_uptime_only([A])
    reader = UptimeOnly(frontier)
    assert reader.hosts() == {A}

    def down() -> int:
        raise FrontierUnavailable("frontier Redis unavailable")

    monkeypatch.setattr(frontier, "uptime_only_version", down)
    assert reader.hosts() == {A}
