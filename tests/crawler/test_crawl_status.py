"""``heroes crawl status`` on real stores: services by state from the index, queue sizes,
leases and host queues from the frontier, pages/min from the pages fetched lately."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from config import load_settings
from crawler.frontier import NewUrl, open_store
from crawler.status import crawl_status, render
from documents.page import Page
from documents.service import Check, Service
from heroes.cli import main
from index.store import Store


def _onion(letter: str) -> str:
    return letter * 56 + ".onion"


def test_status_counts_services_queues_and_leases(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, overrides={
        "data_dir": str(tmp_path), "crawler": {"dead_after_checks": 2}})
    now = datetime.now(UTC)

    def service(letter: str, checks: list[bool]) -> Service:
        return Service(host=_onion(letter), first_seen=now - timedelta(days=1), last_seen=now,
                       history=[Check(at=now - timedelta(minutes=len(checks) - i), up=up)
                                for i, up in enumerate(checks)])

    store = Store(settings)
    store.append([service("a", [True]), service("b", [False, True]), service("c", [True, False]),
                  service("d", [False, False]), service("e", [True, False, False, False])])
    store.append([Page(url=f"http://{_onion('a')}/{i}", fetched_at=now, status=200)
                  for i in range(30)])
    store.append([Page(url=f"http://{_onion('a')}/old", fetched_at=now - timedelta(hours=1))])

    async def drain() -> None:
        async with store.writer() as drainer:
            await drainer.drain_all()

    asyncio.run(drain())
    store.close()
    job_db = tmp_path / "crawl-jobs" / "service" / "job.sqlite"
    frontier = open_store(settings, "service", job_db)
    new_host = _onion("n")
    frontier.push([NewUrl(f"http://{new_host}/"), *(NewUrl(f"http://{new_host}/{i}")
                                                    for i in range(4)),
                   NewUrl(f"http://{_onion('a')}/"), NewUrl(f"http://{_onion('a')}/x",
                                                            delay_s=3600)])
    leased = frontier.lease("host-1/1/x", 2)
    frontier.close()
    assert len(leased) == 2

    status = asyncio.run(crawl_status(settings, "service", job_db))
    assert status.services == {"up": 2, "down": 1, "dead": 2, "new": 1}
    assert status.frontier["queued"] == 5 and status.frontier["due"] == 4
    assert status.leased == 2 and status.holders == ["host-1/1/x"]
    assert status.pages_per_min == 3.0  # 30 pages in the last 10 minutes
    assert status.oldest_due_s is not None and status.oldest_due_s >= 0
    assert status.top_hosts[0][0] == new_host
    text = render(status)
    assert "2 up, 1 down, 2 dead, 1 new" in text and new_host in text

    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "crawl", "status", "--json"],
                                env={"HEROES_CRAWLER__DEAD_AFTER_CHECKS": "2"})
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["services"] == status.services and shown["leased"] == 2


def test_status_of_a_bad_job_name_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "crawl", "status", "--job",
                                       "../x"], env={})
    assert result.exit_code == 2 and "'../x'" in result.output
