"""The console's export buttons: MISP and STIX downloads, audited, CSRF-checked, in Chromium."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stix2
from pymisp import MISPEvent

from tests.console import browser as browser_fixtures
from tests.console.conftest import Client, ConsoleThread, console_settings, make_store, serve
from tests.console.conftest import ingest as console_ingest
from tests.exchange.labdata import (
    CLUSTER_ID,
    EMAIL,
    INFOHASH,
    ONION_A,
    PEER_IPS,
    SHA256,
    alert_id,
    cluster,
    documents,
)

browser = browser_fixtures.browser


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleThread]:
    data_dir = tmp_path_factory.mktemp("exchange-console")
    settings = console_settings(data_dir)
    store = make_store(settings)
    asyncio.run(console_ingest(store, [*documents(), cluster()]))
    yield from serve(settings, store)


@pytest.fixture
def analyst(console: ConsoleThread) -> Client:
    return Client(console.url).login("alice")


def exports_audited(console: ConsoleThread) -> list[dict[str, Any]]:
    admin = Client(console.url).login("root")
    return [r["data"] for r in admin.get("/api/audit?action=export").json()["records"]]


def post_export(client: Client, kind: str, key: str, **form: str) -> Any:
    return client.post(f"/api/export/{kind}/{key}", data=form,
                       headers={"X-CSRF-Token": client.csrf})


def test_api_export_answers_the_file_and_audits_it(
    analyst: Client, console: ConsoleThread,
) -> None:
    resp = post_export(analyst, "service", ONION_A, format="misp", tlp="red")
    assert resp.status == 200, resp.text
    assert "attachment" in resp.headers["Content-Disposition"]
    event = MISPEvent()
    event.load(resp.text)
    assert "tlp:red" in {t.name for t in event.tags}
    assert EMAIL in resp.text and not any(ip in resp.text for ip in PEER_IPS)
    record = next(r for r in exports_audited(console)
                  if r.get("target") == f"service/{ONION_A}")
    assert (record["user"], record["format"], record["tlp"]) == ("alice", "misp", "red")
    assert record["values"] > 0 and record["peers"] == 0

    for kind, key in (("alert", alert_id()), ("infohash", INFOHASH), ("cluster", CLUSTER_ID)):
        resp = post_export(analyst, kind, key, format="stix")
        assert resp.status == 200, (kind, resp.text)
        bundle = stix2.parse(resp.text, allow_custom=True)
        assert any(o.type == "marking-definition" and o.name == "TLP:AMBER"
                   for o in bundle.objects)
    targets = {r.get("target") for r in exports_audited(console)}
    assert {f"alert/{alert_id()}", f"infohash/{INFOHASH}", f"cluster/{CLUSTER_ID}"} <= targets


def test_export_errors_are_words_and_unaudited(analyst: Client, console: ConsoleThread) -> None:
    before = len(exports_audited(console))
    bad_format = post_export(analyst, "service", ONION_A, format="csv")
    assert bad_format.status == 400 and bad_format.json()["error"]["param"] == "format"
    bad_kind = post_export(analyst, "page", "x", format="misp")
    assert bad_kind.status == 400 and "'page'" in bad_kind.json()["error"]["message"]
    missing = post_export(analyst, "alert", "no-such-alert", format="misp")
    assert missing.status == 404 and "no-such-alert" in missing.json()["error"]["message"]
    no_csrf = analyst.post(f"/api/export/service/{ONION_A}", data={"format": "misp"})
    assert no_csrf.status == 403
    assert len(exports_audited(console)) == before


@pytest.mark.browser
def test_export_buttons_download_in_chromium_without_loading_images(
    console: ConsoleThread, browser: Any, tmp_path: Path,
) -> None:  # the console first: its documents are ingested before Playwright's loop runs
    context, page = browser_fixtures.log_in(browser, console, "alice")
    images: list[str] = []
    page.on("request", lambda r: images.append(r.url) if r.resource_type == "image" else None)
    try:
        page.goto(f"/service/{ONION_A}")
        form = page.locator("form.exchange-export")
        assert form.count() == 1
        form.locator("select[name=tlp]").select_option("green")
        with page.expect_download() as caught:
            form.locator("input.export-stix").click()
        path = tmp_path / "bundle.json"
        caught.value.save_as(str(path))
        bundle = stix2.parse(path.read_text(), allow_custom=True)
        assert any(o.type == "marking-definition" and o.name == "TLP:GREEN"
                   for o in bundle.objects)
        assert any(o.type == "indicator" and SHA256 in o.pattern for o in bundle.objects)

        page.goto(f"/infohash/{INFOHASH}")
        with page.expect_download() as caught:
            page.locator("form.exchange-export input.export-misp").click()
        event = json.loads(Path(caught.value.path()).read_text())
        assert INFOHASH in json.dumps(event)

        page.goto("/alerts")
        alert = page.locator(f"li.alert[data-id='{alert_id()}']")
        with page.expect_download():
            alert.locator("form.exchange-export input.export-misp").click()
        assert alert.locator("button").count() == 1  # the view's own button stays alone
        assert page.evaluate("() => document.images.length") == 0
    finally:
        context.close()
    assert images == []
    records = exports_audited(console)
    assert {(r["target"], r["format"]) for r in records if r["user"] == "alice"} >= {
        (f"service/{ONION_A}", "stix"), (f"infohash/{INFOHASH}", "misp"),
        (f"alert/{alert_id()}", "misp")}


@pytest.mark.browser
def test_cluster_view_exports_the_cluster(console: ConsoleThread, browser: Any) -> None:
    context, page = browser_fixtures.log_in(browser, console, "alice")
    try:
        page.goto(f"/cluster/{CLUSTER_ID}")
        form = page.locator("form.exchange-export")
        assert form.count() == 1
        with page.expect_download() as caught:
            form.locator("input.export-misp").click()
        event = MISPEvent()
        event.load(Path(caught.value.path()).read_text())
        comments = [a.value for a in event.attributes if a.type == "comment"]
        assert any(EMAIL in c for c in comments), comments
        assert page.evaluate("() => document.images.length") == 0
    finally:
        context.close()
    assert any(r["target"] == f"cluster/{CLUSTER_ID}" and r["format"] == "misp"
               for r in exports_audited(console))
