"""The spider's pivot steps: one favicon fetch per service however many pages arrive at once,
a favicon that is no image or a broken EXIF block recorded as a pivot error."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from scrapy import Request
from scrapy.http import HtmlResponse, Response

from config.sections.crawler import CrawlerSettings
from crawler.extract.page import extract_page
from crawler.jobstate import JobState
from crawler.spiders.onion import OnionSpider
from documents.page import Media
from tests.crawler.test_pivots import _png, broken_exif, jpeg_with_exif

PAGE = (b'<html><head><link rel="icon" href="/i/icon.png"><title>Shop</title></head>'
        b"<body><p>generic market listing</p><img src='/a.jpg'></body></html>")


class FakeEngine:
    """Answers downloads from a dict of URL -> (status, body), counting each request."""

    def __init__(self, answers: dict[str, tuple[int, bytes]]):
        self.answers = answers
        self.requests: list[str] = []

    async def download_async(self, request: Request) -> Response:
        self.requests.append(request.url)
        await asyncio.sleep(0)  # let concurrent pages of the same service interleave
        status, body = self.answers.get(request.url, (404, b"not found"))
        return Response(request.url, status=status, body=body, request=request)


def _spider(engine: FakeEngine) -> OnionSpider:
    spider = OnionSpider()
    spider.options = CrawlerSettings()
    spider.crawler = SimpleNamespace(engine=engine, stats=None)  # type: ignore[assignment]
    return spider


def _response(url: str, body: bytes = PAGE, **meta: Any) -> HtmlResponse:
    request = Request(url, meta=meta)
    headers = {"Server": "lab", "Content-Type": "text/html; charset=utf-8", "X-Extra": "1"}
    return HtmlResponse(url, body=body, headers=headers, request=request)


def test_one_favicon_fetch_per_service_for_pages_arriving_together() -> None:
    engine = FakeEngine({"http://a.onion/i/icon.png": (200, _png())})
    spider = _spider(engine)

    async def main() -> list[tuple[str, str]]:
        pages = [_response(f"http://a.onion/p{i}") for i in range(5)]
        return await asyncio.gather(*(spider._favicon(r, "a.onion") for r in pages))

    results = asyncio.run(main())
    assert engine.requests == ["http://a.onion/i/icon.png"]
    assert len({r for r in results}) == 1 and results[0][0].lstrip("-").isdigit()


def test_page_pivots_with_a_bad_favicon_and_a_broken_exif_block() -> None:
    engine = FakeEngine({"http://b.onion/i/icon.png": (200, b"<html>oops</html>"),
                         "http://b.onion/favicon.ico": (200, _png())})
    spider = _spider(engine)
    spider._media_exif["http://b.onion/a.jpg"] = (None, "EXIF block present but no tag reads")
    response = _response("http://b.onion/", heroes_tls={"sha256": "ab" * 32})
    favicon = asyncio.run(spider._favicon(response, "b.onion"))
    assert favicon[0] == "" and "not an image" in favicon[1]
    extracted = extract_page(response.url, response.body)
    pivots = spider._pivots(response, extracted, [Media(url="http://b.onion/a.jpg")], favicon)
    assert pivots.favicon == []
    assert pivots.tls == ["ab" * 32]
    assert len(pivots.headers) == 1 and len(pivots.dom) == 1
    assert pivots.errors == [favicon[1], "exif: http://b.onion/a.jpg: EXIF block present but "
                             "no tag reads"]


def test_exif_pivots_follow_the_media_hashing() -> None:
    spider = _spider(FakeEngine({}))

    async def main() -> tuple[Media, Media]:
        good = await spider._hash_body("http://c.onion/g.jpg", jpeg_with_exif(), "image/jpeg",
                                       10_000_000)
        bad = await spider._hash_body("http://c.onion/b.jpg", broken_exif(jpeg_with_exif()),
                                      "image/jpeg", 10_000_000)
        return good, bad

    good, bad = asyncio.run(main())
    assert good.sha256 and bad.sha256
    response = _response("http://c.onion/")
    pivots = spider._pivots(response, None, [good, bad], ("", ""))
    assert pivots.exif_camera == ["Acme Box 3"] and pivots.exif_serial == ["SN-0042"]
    assert pivots.gps == ["52.51000,-13.40014"]
    assert [e.split(":")[0] for e in pivots.errors] == ["exif"]


def test_no_icon_at_all_is_no_error() -> None:
    spider = _spider(FakeEngine({}))
    assert asyncio.run(spider._favicon(_response("http://d.onion/"), "d.onion")) == ("", "")


def test_a_page_yields_its_links_before_its_item_and_is_not_recorded_by_looking(
    tmp_path: Path,
) -> None:
    # The page item passing the pipelines acks the page: its links must be in the frontier
    # by then, and its content counts as seen only once it is done (a crawler killed sooner
    # fetches it again as new, links followed).
    spider = _spider(FakeEngine({}))
    spider.options = CrawlerSettings(fetch_media=False)
    spider.job = "j"
    spider.jobstate = JobState(tmp_path / "job.sqlite")
    body = (b"<html><head><title>Shop</title></head><body><p>generic market listing</p>"
            b"<a href='/a'>a</a><a href='/b'>b</a></body></html>")
    response = _response("http://e.onion/", body=body)

    async def main() -> list[Any]:
        return [out async for out in spider.parse(response)]

    out = asyncio.run(main())
    assert [type(o).__name__ for o in out] == ["Request", "Request", "PageItem"]
    assert {o.url for o in out[:2]} == {"http://e.onion/a", "http://e.onion/b"}
    assert not spider.jobstate.content_known(out[-1].page.sha256)
    spider.jobstate.close()
