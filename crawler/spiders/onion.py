"""``OnionSpider``: fetch onion pages, extract them, hash their media in memory, follow links.

Outcomes per scheduled request (exactly one item each, see :mod:`crawler.items`):

* a page (any HTTP status) -> ``PageItem`` with title, text, language, links, entities and
  media hashes; links are followed (the scope and limit middlewares decide what enters the
  frontier, the frontier drops URLs already seen);
* the same content already seen in this job (a mirror page) -> ``PageItem`` without
  following its links or fetching its media again;
* a failed fetch (Tor/SOCKS error, timeout, size cap) -> ``PageItem`` with ``error`` set;
* refused before any network use (out of scope) -> ``SkipItem``.

Media (``<img>``, ``<video>`` ... sources) are downloaded through the same Tor path, hashed
in memory (MD5, SHA-1, SHA-256, PDQ) and dropped; nothing is written. Reads ``[crawler]``
``fetch_media``, ``max_media_bytes``, ``max_response_bytes``, ``max_depth``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.extract.media import hash_media
from crawler.extract.page import extract_page
from crawler.items import PageItem, SkipItem
from crawler.jobstate import JobState
from crawler.middlewares.scope import OutOfScope
from crawler.settings import HEROES_JOB, HEROES_JOB_DIR, heroes_settings
from index.documents.base import utcnow
from index.documents.page import Entities, Media, Page

log = logging.getLogger(__name__)

MAX_MEDIA_PER_PAGE = 50
# Media shared by many pages (logos, banners) are fetched once; the cache only holds hashes.
MEDIA_CACHE_SIZE = 20_000
_HTML_TYPES = ("text/html", "application/xhtml", "text/plain", "")


def describe_failure(failure: Failure, max_bytes: int) -> str:
    """A short, stable error text for a page document."""
    exc = failure.value
    if isinstance(exc, DownloadCancelledError):
        return f"size cap: response cut at {max_bytes} bytes"
    if isinstance(exc, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(exc):
        return f"size cap: decompressed body cut at {max_bytes} bytes"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


class OnionSpider(scrapy.Spider):
    name = "onion"

    def __init__(self, seeds: list[str] | tuple[str, ...] = (), **kwargs: Any):
        super().__init__(**kwargs)
        self.seeds = list(seeds)
        self._media_cache: dict[str, Media] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> OnionSpider:
        spider: OnionSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = heroes_settings(crawler.settings)
        spider.options = settings.crawler
        spider.job = crawler.settings[HEROES_JOB]
        from pathlib import Path

        spider.jobstate = JobState(Path(crawler.settings[HEROES_JOB_DIR]) / "job.sqlite")
        return spider

    async def start(self) -> AsyncIterator[Any]:
        for url in self.seeds:
            yield Request(url, callback=self.parse, errback=self.failed)

    async def parse(self, response: Response, **_: Any) -> AsyncIterator[Any]:
        body = response.body
        sha256 = hashlib.sha256(body).hexdigest()
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        headers = {
            k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items() if v
        }
        repeat = self.jobstate.content_seen(sha256)
        is_html = ctype.split(";")[0].strip() in _HTML_TYPES or ctype.startswith("text/")
        extracted = extract_page(response.url, body, headers) if is_html else None
        media: list[Media] = []
        if extracted is not None and self.options.fetch_media and not repeat:
            for url in extracted.media_urls[:MAX_MEDIA_PER_PAGE]:
                media.append(await self._hash_media(url))
        page = Page(
            url=response.url,
            fetched_at=utcnow(),
            status=response.status,
            sha256=sha256,
            size=len(body),
            job=self.job,
            title=extracted.title if extracted else "",
            text=extracted.text if extracted else "",
            lang=extracted.lang if extracted else "",
            links=list(extracted.links) if extracted else [],
            entities=Entities(**extracted.entities) if extracted else Entities(),
            media=media,
        )
        del body
        chain = (*response.meta.get("redirect_urls", ()), response.request.url)
        yield PageItem(page, tuple(dict.fromkeys(chain)), server=headers.get("Server", ""))
        # max_depth 0 means "these pages only" (Scrapy's DEPTH_LIMIT 0 would mean no limit).
        if extracted is None or repeat or self.options.max_depth == 0:
            return
        for link in extracted.links:
            yield Request(link, callback=self.parse, errback=self.failed)

    async def _hash_media(self, url: str) -> Media:
        if url in self._media_cache:
            return self._media_cache[url]
        request = Request(
            url, meta={"download_maxsize": self.options.max_media_bytes}, dont_filter=True
        )
        try:
            response = await self.crawler.engine.download_async(request)
        except OutOfScope as exc:
            result = Media(url=url, error=f"not fetched: out of scope ({exc.reason})")
        except Exception as exc:
            result = Media(url=url, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        else:
            if response.status != 200:
                result = Media(url=url, error=f"HTTP {response.status}")
            else:
                ctype = response.headers.get(b"Content-Type", b"").decode("latin-1")
                hashes = hash_media(response.body, ctype)
                result = Media(
                    url=url,
                    md5=hashes.md5,
                    sha1=hashes.sha1,
                    sha256=hashes.sha256,
                    pdq=hashes.pdq,
                    pdq_quality=hashes.pdq_quality,
                    size=hashes.size,
                    content_type=ctype or None,
                )
            # Only the hashes live on; the response (and its bytes) goes out of scope here.
            del response
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("heroes/media/" + ("error" if result.error else "hashed"))
        if len(self._media_cache) >= MEDIA_CACHE_SIZE:
            self._media_cache.pop(next(iter(self._media_cache)))
        self._media_cache[url] = result
        return result

    def failed(self, failure: Failure) -> Iterator[Any]:
        request: Request = failure.request  # type: ignore[attr-defined]
        chain = tuple(dict.fromkeys((*request.meta.get("redirect_urls", ()), request.url)))
        if isinstance(failure.value, OutOfScope):
            yield SkipItem(request.url, failure.value.reason, chain)
            return
        error = describe_failure(failure, self.options.max_response_bytes)
        log.info("fetch failed: %s: %s", request.url, error)
        yield PageItem(
            Page(url=request.url, fetched_at=utcnow(), status=0, job=self.job, error=error), chain
        )

    def closed(self, reason: str) -> None:
        self.jobstate.close()
