"""Pivots of a lab crawl: favicons fetched once per service and hashed in memory, tracker ids,
header and DOM hashes, EXIF of images, and pivot errors that keep their page."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from crawler.extract.pivots import favicon_hash
from heroes.lab import site_pivots
from index.store import Store
from query.model import Search
from query.querystring import parse_query_string
from tests.crawler.conftest import CrawlRun, LabWorld, indexed, settings_for

pytestmark = pytest.mark.tor


def _by_service(world: LabWorld, crawl: CrawlRun) -> dict[str, list[dict[str, Any]]]:
    names = {s["onion"]: name for name, s in world.truth["services"].items()}
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in indexed(crawl.data_dir, "page"):
        if doc["host"] in names and not doc.get("error"):
            out.setdefault(names[doc["host"]], []).append(doc)
    return out


def _site_file(world: LabWorld, service: str, rel: str) -> bytes:
    return (world.dir / "sites" / service / rel).read_bytes()


def test_each_service_carries_its_favicon_hash(lab_world: LabWorld, lab_crawl: CrawlRun) -> None:
    pages = _by_service(lab_world, lab_crawl)
    forum_icon = favicon_hash(_site_file(lab_world, "forum", "favicon.ico"))
    market_icon = favicon_hash(_site_file(lab_world, "market", site_pivots.MARKET_ICON_PATH))
    assert forum_icon != market_icon
    for service, expected in (("forum", forum_icon), ("market", market_icon)):
        html = [p for p in pages[service] if p.get("title")]
        assert html, service
        assert all(p["pivots"]["favicon"] == [expected] for p in html), service
    services = {s["host"]: s for s in indexed(lab_crawl.data_dir, "service")}
    forum = services[lab_world.truth["services"]["forum"]["onion"]]
    assert forum["pivots"]["favicon"] == [forum_icon]
    assert set(site_pivots.FORUM_ANALYTICS) <= set(forum["pivots"]["analytics"])


def test_trackers_headers_and_dom_on_pages(lab_world: LabWorld, lab_crawl: CrawlRun) -> None:
    pages = _by_service(lab_world, lab_crawl)
    front = {s: next(p for p in pages[s] if p["url"].endswith(".onion/")) for s in pages}
    assert front["forum"]["pivots"]["analytics"][:2] == list(site_pivots.FORUM_ANALYTICS)
    assert front["market"]["pivots"]["analytics"] == list(site_pivots.MARKET_ANALYTICS)
    assert not front["directory"]["pivots"].get("analytics")
    headers = {h for ps in pages.values() for p in ps for h in p["pivots"]["headers"]}
    # Every lab site runs the same HTTP server: one header order.
    assert len(headers) == 1 and re.fullmatch(r"[0-9a-f]{16}", next(iter(headers)))
    doms = {p["pivots"]["dom"][0] for p in pages["forum"] if p["pivots"].get("dom")}
    assert len(doms) > 1  # the index and a thread are different skeletons
    assert all(re.fullmatch(r"[0-9a-f]{16}", d) for d in doms)


def test_exif_of_images_and_errors_that_keep_the_page(
    lab_world: LabWorld, lab_crawl: CrawlRun
) -> None:
    pages = {p["url"]: p for ps in _by_service(lab_world, lab_crawl).values() for p in ps}
    vendor = next(p for u, p in pages.items() if u.endswith("/vendor.html"))
    assert vendor["pivots"]["exif_camera"] == [site_pivots.PHOTO_CAMERA]
    assert vendor["pivots"]["exif_serial"] == [site_pivots.PHOTO_SERIAL]
    assert vendor["pivots"]["gps"] == [site_pivots.PHOTO_GPS]
    paste = next(p for u, p in pages.items() if u.endswith("/paste-3.html"))
    errors = paste["pivots"]["errors"]
    assert any(e.startswith("exif: ") and "snapshot.jpg" in e for e in errors), errors
    assert any(e.startswith("favicon: ") and "not an image" in e for e in errors), errors
    assert not paste["pivots"].get("favicon")
    # The page is kept whole: its text, entities and the broken image's hashes.
    assert paste["text"] and paste["entities"]["pgp"]
    snapshot = next(m for m in paste["media"] if m["url"].endswith("snapshot.jpg"))
    assert len(snapshot["sha256"]) == 64


def test_pivot_query_finds_the_service(lab_world: LabWorld, lab_crawl: CrawlRun) -> None:
    forum_icon = favicon_hash(_site_file(lab_world, "forum", "favicon.ico"))

    async def hosts(kind: str, text: str) -> set[str]:
        store = Store(settings_for(lab_crawl.data_dir))
        try:
            found = await store.search(Search(kind, parse_query_string(text, kind), size=100))
        finally:
            store.close()
        return {h["_source"]["host"] for h in found["hits"]["hits"]}

    forum = lab_world.truth["services"]["forum"]["onion"]
    assert asyncio.run(hosts("service", f"pivot.favicon:{forum_icon}")) == {forum}
    assert asyncio.run(hosts("page", f'pivot.analytics:"{site_pivots.FORUM_ANALYTICS[0]}"')) \
        == {forum}


def test_no_favicon_or_photo_bytes_on_disk(lab_world: LabWorld, lab_crawl: CrawlRun) -> None:
    blobs = [_site_file(lab_world, "forum", "favicon.ico"),
             _site_file(lab_world, "market", site_pivots.MARKET_ICON_PATH)]
    hits = []
    for path in Path(lab_crawl.data_dir).rglob("*"):
        if path.is_file() and any(blob in path.read_bytes() for blob in blobs):
            hits.append(str(path))
    assert not hits, hits
