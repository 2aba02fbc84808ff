"""Headless Chromium on the peers view: sort the table, open a peer from its IP, read the
explanation and the timeline, assign it; the assignment shows in the audit log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console import browser as browser_fixtures
from tests.console import peers_fixtures
from tests.console.browser import SHOTS
from tests.console.conftest import ConsoleThread
from tests.triage import peer_data as pd

pytestmark = pytest.mark.browser

peers_console = peers_fixtures.peers_console
browser = browser_fixtures.browser


def _first_ips(page: Any, n: int = 3) -> list[str]:
    return page.locator("table.peers tbody tr.peer-row").evaluate_all(
        "rows => rows.map(r => r.dataset.ip)")[:n]


def test_peers_view_sort_explain_assign(peers_console: ConsoleThread, browser: Any) -> None:
    context, page = browser_fixtures.log_in(browser, peers_console, "alice")
    try:
        page.goto("/peers")
        page.wait_for_selector("table.peers tr.peer-row")
        assert _first_ips(page, 2) == [pd.TOP, pd.MID]
        page.click("a.sort[data-sort=swarms]")  # ascending first
        page.wait_for_url("**sort=swarms**")
        page.click("a.sort[data-sort=swarms]")  # then descending
        page.wait_for_url("**order=desc**")
        assert _first_ips(page, 1) == [pd.L0_ONLY]
        page.screenshot(path=str(SHOTS / "peers.png"), full_page=True)

        page.click(f"table.peers a[href='/peer/{pd.TOP}']")
        page.wait_for_selector("section.explanation table.score-terms")
        terms = page.locator("table.score-terms tbody tr[data-term]").all_inner_texts()
        assert [t.split("\t")[0] for t in terms] == [
            "swarms", "severity", "level", "persistence", "recency", "completeness"]
        assert "garden lamp catalogue" in page.locator("section.timeline").inner_text()
        assert page.locator("figure.hours rect.bar").count() == 24

        page.fill("form.assign input[name=case]", "LAB-2026-5")
        page.click("form.assign button[type=submit]")
        page.wait_for_selector("p.assigned")
        assert "LAB-2026-5" in page.locator("p.assigned").inner_text()
        page.screenshot(path=str(SHOTS / "peer.png"), full_page=True)
        assert not [e for e in page.errors if "Content Security Policy" in e]
    finally:
        context.close()

    context, page = browser_fixtures.log_in(browser, peers_console, "root")
    try:
        page.goto("/peers")
        row = page.locator(f"table.peers tr.peer-row[data-ip='{pd.TOP}']")
        assert "LAB-2026-5" in row.inner_text()  # the others see it
        page.goto("/audit")
        page.wait_for_selector("table")
        # The assignment's record (its target is the peer; views name the page path).
        audit_row = page.locator("table tr", has_text=f"target=peer/{pd.TOP}").first
        assert "assign" in audit_row.inner_text()
    finally:
        context.close()
