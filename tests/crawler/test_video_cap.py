"""The spider's media bounds: a download is stopped past the size cap with its prefix kept;
the hash cache is bounded by entries and by vPDQ frames."""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request
from scrapy.exceptions import StopDownload

from crawler.spiders.onion import MEDIA_CAP, OnionSpider
from documents.page import Media


def _media_request(cap: int) -> Request:
    return Request("http://x.onion/clip.mp4", meta={"download_maxsize": 0, MEDIA_CAP: cap})


def test_download_stops_once_past_the_cap_and_keeps_what_it_has():
    spider = OnionSpider()
    request = _media_request(1000)
    spider._media_bytes(b"a" * 600, request)
    spider._media_bytes(b"a" * 400, request)  # exactly the cap: a file of that size is whole
    with pytest.raises(StopDownload) as stopped:
        spider._media_bytes(b"a", request)
    assert stopped.value.fail is False  # the response arrives with the prefix, not an error
    # Decompression (if a server compresses anyway) is bounded by the same cap.
    assert request.meta["download_maxsize"] == 1000


def test_a_retry_counts_from_zero_and_pages_are_left_alone():
    spider = OnionSpider()
    request = _media_request(1000)
    spider._media_bytes(b"a" * 900, request)
    retry = request.copy()  # what RetryMiddleware sends: the same meta, a new request
    spider._media_bytes(b"a" * 900, retry)
    with pytest.raises(StopDownload):
        spider._media_bytes(b"a" * 200, request)
    page = Request("http://x.onion/")
    spider._media_bytes(b"a" * 10_000_000, page)
    assert "download_maxsize" not in page.meta


def test_the_media_cache_is_bounded_by_frames_too(monkeypatch):
    monkeypatch.setattr("crawler.spiders.onion.MEDIA_CACHE_FRAMES", 10)
    spider = OnionSpider()
    frames = [{"t": float(i), "pdq": "0" * 64, "q": 90} for i in range(4)]
    for i in range(5):
        spider._cache_media(f"http://x.onion/{i}.mp4",
                            Media(url=f"http://x.onion/{i}.mp4", vpdq=frames))
    assert list(spider._media_cache) == ["http://x.onion/3.mp4", "http://x.onion/4.mp4"]
    spider._cache_media("http://x.onion/4.mp4", Media(url="http://x.onion/4.mp4", vpdq=frames))
    spider._cache_media("http://x.onion/a.png", Media(url="http://x.onion/a.png"))
    assert spider._cached_frames == 8 and len(spider._media_cache) == 3


def test_a_hashing_failure_costs_the_file_not_the_page(monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("decoder state lost")

    monkeypatch.setattr("crawler.spiders.onion.hash_media", broken)
    media = asyncio.run(OnionSpider()._hash_body("http://x.onion/v.mp4", b"\0" * 64,
                                                 "video/mp4", 1000))
    assert media.error == "hashing failed: RuntimeError" and media.sha256 is None
