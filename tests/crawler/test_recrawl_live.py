"""``heroes crawl --recrawl`` re-checks the known services (front pages only) and extends
their up/down history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.crawler.conftest import CrawlRun, LabWorld, indexed, run_heroes

pytestmark = pytest.mark.tor


def test_recrawl_checks_every_known_service_again(
    lab_world: LabWorld, lab_crawl: CrawlRun, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(lab_crawl.data_dir, data_dir)
    before = {doc["host"]: doc for doc in indexed(data_dir, "service")}
    # Every service is due at once with a tiny interval.
    done = run_heroes(
        lab_world,
        data_dir,
        ["crawl", "--recrawl", "--json"],
        HEROES_CRAWLER__RECRAWL_INTERVAL_H="0.0001",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    up = [h for h, s in before.items() if s["up"]]
    assert summary["pages"] == len(up)  # front pages only
    after = {doc["host"]: doc for doc in indexed(data_dir, "service")}
    assert set(after) == set(before)
    for host, service in after.items():
        assert len(service["history"]) == 2, host
        assert service["up"] == before[host]["up"], host
        assert service["first_seen"] == before[host]["first_seen"], host


def test_recrawl_with_nothing_due(lab_world: LabWorld, lab_crawl: CrawlRun, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(lab_crawl.data_dir, data_dir)
    done = run_heroes(lab_world, data_dir, ["crawl", "--recrawl"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no service is due" in done.stdout
