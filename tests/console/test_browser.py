"""A real headless Chromium drives the console: login, search, every view, acknowledge.

Screenshots of each view go to test-output/console/. Hostile page content must render as
text, and no script from data may run (the payloads would set ``window.__pwned``).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.console import browser as browser_fixtures
from tests.console.browser import SHOTS
from tests.console.conftest import Client, ConsoleThread
from tests.console.labdata import HOSTILE_TITLE, HOSTS, INFOHASH, WALLET

pytestmark = pytest.mark.browser

browser = browser_fixtures.browser


@pytest.fixture
def page(browser: object, console: ConsoleThread) -> Iterator[object]:
    context, page = browser_fixtures.log_in(browser, console, "alice")
    yield page
    context.close()  # type: ignore[attr-defined]


def test_admin_sees_hash_lists_and_the_audit_log(browser: object, console: ConsoleThread) -> None:
    context, p = browser_fixtures.log_in(browser, console, "root")
    try:
        p.goto("/hashes")  # type: ignore[attr-defined]
        p.wait_for_selector("table.hashlists td")  # type: ignore[attr-defined]
        assert "lab-list" in p.locator("table.hashlists").inner_text()  # type: ignore[attr-defined]
        assert p.locator("form.import-form").count() == 1  # type: ignore[attr-defined]
        _shot(p, "hashes")
        p.goto("/audit")  # type: ignore[attr-defined]
        p.wait_for_selector("p.chain-ok")  # type: ignore[attr-defined]
        text = p.locator("table.audit").inner_text()  # type: ignore[attr-defined]
        assert "login" in text and "audit_view" in text
        _shot(p, "audit")
    finally:
        context.close()  # type: ignore[attr-defined]


def _not_pwned(page: object) -> None:
    assert page.evaluate("() => window.__pwned === undefined")  # type: ignore[attr-defined]


def _shot(page: object, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_analyst_walks_every_view(page: object, console: ConsoleThread) -> None:
    p = page
    p.fill("input[name=q]", "tea")  # type: ignore[attr-defined]
    p.click("form.searchbox button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_selector("ol.hits li.hit")  # type: ignore[attr-defined]
    assert "q=tea" in p.url  # type: ignore[attr-defined]
    assert p.locator("figure.plot svg rect").count() > 0  # type: ignore[attr-defined]
    _shot(p, "search")
    # A histogram bar narrows to its time range.
    p.click("figure.plot svg a.zoom >> nth=0")  # type: ignore[attr-defined]
    p.wait_for_url("**to=**")  # type: ignore[attr-defined]
    assert "from=" in p.url  # type: ignore[attr-defined]
    p.go_back()  # type: ignore[attr-defined]
    p.wait_for_selector("aside.facets a")  # type: ignore[attr-defined]
    # A facet narrows, and the URL carries it (shareable).
    p.click("aside.facets a >> nth=0")  # type: ignore[attr-defined]
    p.wait_for_url("**f=**")  # type: ignore[attr-defined]
    p.goto("/search?kind=page&q=" + quote(f"host:{HOSTS[0]}") + "&size=50")  # type: ignore[attr-defined]
    p.click("ol.hits li.hit a.hit-title >> nth=0")  # type: ignore[attr-defined]
    p.wait_for_selector("article.page-view")  # type: ignore[attr-defined]
    _shot(p, "page")
    assert p.locator("img").count() == 0  # type: ignore[attr-defined]
    p.goto(f"/service/{HOSTS[0]}")  # type: ignore[attr-defined]
    p.wait_for_selector("article.service-view figure.plot")  # type: ignore[attr-defined]
    _shot(p, "service")
    p.goto(f"/infohash/{INFOHASH}")  # type: ignore[attr-defined]
    p.wait_for_selector("table.observations tbody tr")  # type: ignore[attr-defined]
    assert p.locator("table.observations tbody tr").count() == 8  # type: ignore[attr-defined]
    _shot(p, "infohash")
    p.goto(f"/entity/btc/{WALLET}")  # type: ignore[attr-defined]
    p.wait_for_selector("article.entity-view")  # type: ignore[attr-defined]
    _shot(p, "entity")
    _not_pwned(p)
    # Every view and search of the walk is in the audit log, with the analyst's name.
    records = Client(console.url).login("root").get("/api/audit?user=alice").json()["records"]
    targets = [r["data"].get("target", "") for r in records]
    for prefix in ("/search?", "/page/", "/service/", "/infohash/", "/entity/btc/"):
        assert any(t.startswith(prefix) for t in targets), prefix
    assert any(r["data"]["action"] == "search" and r["data"].get("query") == "tea" for r in records)


def test_acknowledge_an_alert(page: object, console: ConsoleThread) -> None:
    p = page
    p.goto("/alerts?status=new")  # type: ignore[attr-defined]
    first = p.locator("li.alert").first  # type: ignore[attr-defined]
    alert_id = first.get_attribute("data-id")
    first.locator("input[name=comment]").fill("checked by the unit")
    first.locator("button").click()  # the script asks for a confirmation click
    first.locator("button", has_text="Confirm").click()
    p.wait_for_url("**/alerts?acknowledged=**")  # type: ignore[attr-defined]
    assert p.locator("p.ack-notice").count() == 1  # type: ignore[attr-defined]
    admin = Client(console.url).login("root")
    # The acknowledgement goes through the spool; the console's drain indexes it.
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = admin.get(f"/api/alerts?id={alert_id}").json()["alerts"]
        if found and found[0]["status"] == "acknowledged":
            break
        time.sleep(0.1)
    assert found[0]["status"] == "acknowledged", found
    assert found[0]["acknowledged_by"] == "alice" and found[0]["comment"] == "checked by the unit"
    p.goto("/alerts")  # type: ignore[attr-defined]
    acked = p.locator(f"li.alert[data-id='{alert_id}'] div.ack")  # type: ignore[attr-defined]
    assert "checked by the unit" in acked.inner_text()
    _shot(p, "alerts")
    records = admin.get("/api/audit?action=acknowledge").json()["records"]
    assert any(r["data"]["target"] == alert_id for r in records)


def test_hostile_content_renders_as_text_everywhere(page: object) -> None:
    p = page
    p.goto("/search?kind=page&q=hostile")  # type: ignore[attr-defined]
    p.wait_for_selector("ol.hits li.hit")  # type: ignore[attr-defined]
    assert p.locator("a.hit-title").first.inner_text() == HOSTILE_TITLE  # type: ignore[attr-defined]
    _not_pwned(p)
    p.click("a.hit-title >> nth=0")  # type: ignore[attr-defined]
    p.wait_for_selector("h1.doc-title")  # type: ignore[attr-defined]
    assert p.locator("h1.doc-title").inner_text() == HOSTILE_TITLE  # type: ignore[attr-defined]
    assert "<img src=x" in p.locator("pre.page-text").inner_text()  # type: ignore[attr-defined]
    assert p.locator("img").count() == 0 and p.locator("script:not([src])").count() == 0  # type: ignore[attr-defined]
    _shot(p, "hostile-page")
    for path in (
        f"/service/{HOSTS[3]}",
        f"/entity/btc/{WALLET}",
        "/search?kind=page&q=listing",
        "/entity/emails/" + quote("<script>@example.org", safe=""),
    ):
        p.goto(path)  # type: ignore[attr-defined]
        p.wait_for_selector("main")  # type: ignore[attr-defined]
        _not_pwned(p)
        assert p.locator("script:not([src])").count() == 0  # type: ignore[attr-defined]
