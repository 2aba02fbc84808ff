"""Pivot values on the console's page and service views: links to the search for each value,
common ones (by share of services or on the unit's suppression list) shown but not linked.
Over HTTP (the JSON API) and in headless Chromium, which loads no image."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from documents import Page
from documents.page import Media
from tests.analysis.test_pivots import FAVICON, T0, corpus
from tests.console import browser as browser_fixtures
from tests.console.browser import SHOTS
from tests.console.conftest import Client, ConsoleThread, console_settings, ingest, make_store
from tests.console.conftest import serve as serve_console

browser = browser_fixtures.browser
SUPPRESSED = "matomo:stats.example.onion/7"


def _photo_page() -> Page:
    return Page(url="http://svc03.onion/photo", fetched_at=T0, title="photo page",
                text="generic market listing", media=[Media(url="http://svc03.onion/a.jpg",
                                                            sha256="ab" * 32)],
                pivots={"exif_serial": ["SN-0042"], "analytics": ["UA-424242-1"],
                        "errors": ["exif: http://svc03.onion/b.jpg: EXIF block present but "
                                   "no tag reads"]})


@pytest.fixture(scope="module")
def pivots_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleThread]:
    data_dir = tmp_path_factory.mktemp("pivots-console")
    suppress = data_dir.parent / f"{data_dir.name}-suppress.txt"
    suppress.write_text(f"# the lab unit's list\nanalytics:{SUPPRESSED}\n")
    settings = console_settings(data_dir)
    settings = settings.model_copy(update={"analysis": settings.analysis.model_copy(
        update={"common_fraction": 0.2, "suppress_files": [suppress]})})
    store = make_store(settings)
    asyncio.run(ingest(store, [*corpus(), _photo_page()]))
    yield from serve_console(settings, store)


def _values(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], v["value"]): v for r in rows for v in r["values"]}


def test_service_view_links_rare_values_and_not_common_ones(
        pivots_console: ConsoleThread) -> None:
    client = Client(pivots_console.url).login("alice")
    data = client.get("/api/service/svc03.onion").json()
    values = _values(data["pivot_rows"])
    analytics = values[("analytics", "UA-424242-1")]
    assert not analytics["common"]
    query = parse_qs(urlsplit(analytics["href"]).query)
    assert query == {"kind": ["service"], "q": ['pivot.analytics:"UA-424242-1"']}
    favicon = values[("favicon", FAVICON)]
    assert favicon["common"] and favicon["href"] == ""
    assert "on 10 of 25 services (40%)" in favicon["why"]
    suppressed = values[("analytics", SUPPRESSED)]
    assert suppressed["common"] and "suppress.txt:2" in suppressed["why"]
    # The link's search finds the two services of the group.
    found = client.get(analytics["href"].replace("/search?", "/api/search?")).json()
    assert {h["href"] for h in found["hits"]} == {"/service/svc03.onion", "/service/svc17.onion"}


def test_page_view_shows_pivots_and_their_errors(pivots_console: ConsoleThread) -> None:
    client = Client(pivots_console.url).login("alice")
    data = client.get(f"/api/page/{_photo_page().id}").json()
    values = _values(data["pivot_rows"])
    assert parse_qs(urlsplit(values[("exif_serial", "SN-0042")]["href"]).query)["kind"] == [
        "page"]
    assert data["pivot_errors"][0].startswith("exif: ")


@pytest.mark.browser
def test_pivots_in_the_browser(pivots_console: ConsoleThread, browser: Any) -> None:
    context, page = browser_fixtures.log_in(browser, pivots_console, "alice")
    images: list[str] = []
    page.on("request", lambda r: images.append(r.url) if r.resource_type == "image" else None)
    try:
        page.goto("/service/svc03.onion")
        section = page.locator("section.pivots")
        section.wait_for()
        common = section.locator("code.pivot.common[data-pivot=favicon]", has_text=FAVICON)
        assert common.count() == 1
        assert "on 10 of 25 services" in common.get_attribute("title")
        assert section.locator("a", has_text=FAVICON).count() == 0
        assert section.locator("a", has_text=SUPPRESSED).count() == 0
        link = section.locator("a.pivot[data-pivot=analytics]", has_text="UA-424242-1")
        page.screenshot(path=str(SHOTS / "service-pivots.png"), full_page=True)
        link.click()
        page.wait_for_url("**/search?**")
        assert quote('pivot.analytics:"UA-424242-1"', safe="") in page.url.replace("+", "%20")
        body = page.locator("main").inner_text()
        assert "svc03.onion" in body and "svc17.onion" in body and "svc04.onion" not in body

        page.goto(f"/page/{_photo_page().id}")
        section = page.locator("section.pivots")
        section.wait_for()
        assert section.locator("a.pivot[data-pivot=exif_serial]", has_text="SN-0042").count() == 1
        assert "EXIF block present" in section.locator("ul.pivot-errors").inner_text()
        assert page.locator("img").count() == 0
        page.screenshot(path=str(SHOTS / "page-pivots.png"), full_page=True)
        assert images == [], images
        assert not [e for e in page.errors if "Content Security Policy" in e]
    finally:
        context.close()
