"""``OnionSpider``: fetch onion pages, extract them, hash their media in memory, follow links.

Outcomes per scheduled request (exactly one item each, see :mod:`crawler.items`):

* a page (any HTTP status) -> ``PageItem`` with title, text, language, links, entities and
  media hashes; links are followed (the scope and limit middlewares decide what enters the
  frontier, the frontier drops URLs already seen);
* the same content already seen in this job (a mirror page) -> ``PageItem`` without
  following its links or fetching its media again;
* onions named in a page's text without a link are queued as new services (front page);
* a failed fetch (Tor/SOCKS error, timeout, size cap) -> ``PageItem`` with ``error`` set;
* refused before any network use (out of scope) -> ``SkipItem``.

Every response is classified (:func:`crawler.access.classify.classify`): a queue page is
waited out (its refresh delay, then the page again, ``queue_max_waits`` times at most); any
other challenge (captcha, login wall, rate limit, JavaScript shell) ends as a ``PageItem``
whose ``access`` says so, its links not followed (the pipeline does not index it).

Media (``<img>``, ``<video>`` ... sources) are downloaded through the same Tor path, hashed
in memory (MD5, SHA-1, SHA-256; PDQ for images, vPDQ for videos, in a worker thread so a
long decode does not stall the crawl) and dropped; nothing is written. A media file over
``max_media_bytes`` is not refused: its download is stopped there and the prefix is hashed,
marked ``truncated``.

Pivots (:mod:`documents.pivots`) go on every page: its own (DOM skeleton, tracker ids, PGP
key ids), the hash of its response-header names, the certificate fingerprint of an https
onion (the one the download handler read), the EXIF camera, serial and GPS of its images,
and its service's favicon hash. The favicon (the icon the first page of a service names,
else ``/favicon.ico``) is fetched with media, once per service and re-check (again after
``recrawl_interval_h``, at most once a day), hashed in memory and dropped. A pivot that
does not read (an icon that is no image, a broken EXIF block) is named in
``pivots.errors``; the page is kept.

Reads ``[crawler]`` ``fetch_media``, ``max_media_bytes``, ``video_max_seconds``,
``video_max_frames``, ``max_response_bytes``, ``max_depth``, ``recrawl_interval_h``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import scrapy
from lxml import etree
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, StopDownload
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.access.classify import JS_REQUIRED, QUEUE, classify
from crawler.extract.media import hash_media
from crawler.extract.page import extract_page, named_onion_urls
from crawler.extract.pivots import (
    ExifPivots,
    PivotError,
    favicon_hash,
    favicon_url,
    headers_hash,
)
from crawler.extract.video import VideoLimits
from crawler.items import PageItem, SkipItem
from crawler.jobstate import JobState
from crawler.middlewares.scope import OutOfScope
from crawler.render.browser import Renderer, RenderUnavailable
from crawler.sessions.login import form_login
from crawler.settings import HEROES_JOB, HEROES_JOB_DIR, heroes_settings, tor_endpoints
from documents.base import utcnow
from documents.page import Entities, Media, Page
from documents.pivots import Pivots

log = logging.getLogger(__name__)

MAX_MEDIA_PER_PAGE = 50
# Media shared by many pages (logos, banners) are fetched once; the cache only holds hashes.
MEDIA_CACHE_SIZE = 20_000
# A video's hashes carry a frame list: the cache holds this many vPDQ frames at most (~80 MB).
MEDIA_CACHE_FRAMES = 200_000
# Media hashed at once (each holds its body, a video also its decoder's frames).
MEDIA_HASHERS = 2
# Request meta of a media download: its size cap, enforced by _media_bytes (not Scrapy's
# download_maxsize, which cancels, sooner still when Content-Length says the file is big).
MEDIA_CAP = "heroes_media_cap"
# A favicon larger than this is not an icon; it is not hashed.
FAVICON_MAX_BYTES = 1 << 20
# Under --forever a service's favicon is fetched again at its re-check, but not more than
# once a day: icons rarely change, and a mirror kept for uptime only gets no deep request.
FAVICON_MIN_AGE_S = 86_400.0
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
        self._cached_frames = 0
        self._renderer: Renderer | bool | None = None
        self._hashers = asyncio.Semaphore(MEDIA_HASHERS)
        self.video_limits = VideoLimits()
        self._media_received: weakref.WeakKeyDictionary[Request, int] = (
            weakref.WeakKeyDictionary())
        # EXIF pivots of the media in _media_cache, by URL (the bytes are gone by then).
        self._media_exif: dict[str, tuple[ExifPivots | None, str | None]] = {}
        # host -> (monotonic time of the fetch, its favicon hash or error).
        self._favicons: dict[str, tuple[float, asyncio.Future[tuple[str, str]]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> OnionSpider:
        spider: OnionSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = heroes_settings(crawler.settings)
        spider.options = settings.crawler
        spider.job = crawler.settings[HEROES_JOB]
        from pathlib import Path

        spider.jobstate = JobState(Path(crawler.settings[HEROES_JOB_DIR]) / "job.sqlite")
        spider.video_limits = VideoLimits(settings.crawler.video_max_seconds,
                                          settings.crawler.video_max_frames)
        crawler.signals.connect(spider._media_bytes, signal=signals.bytes_received)
        return spider

    def _media_bytes(self, data: bytes, request: Request, **_: Any) -> None:
        """Stop a media download once it holds more than its cap; the prefix is kept."""
        cap = request.meta.get(MEDIA_CAP)
        if cap is None:
            return
        # The transport has no cap of its own (download_maxsize 0, see _hash_media); the
        # decompression of a body, if a server compresses one anyway, keeps this one.
        request.meta["download_maxsize"] = cap
        # Counted per request object: a retry or redirect (a copy of the meta) starts at 0.
        received = self._media_received.get(request, 0) + len(data)
        self._media_received[request] = received
        if received > cap:
            raise StopDownload(fail=False)

    async def start(self) -> AsyncIterator[Any]:
        seed_hosts = {urlsplit(url).hostname for url in self.seeds}
        for login in self.options.logins:
            if login.onion in seed_hosts:
                await form_login(self.crawler, heroes_settings(self.crawler.settings), login)
        for url in self.seeds:
            yield Request(url, callback=self.parse, errback=self.failed)

    async def parse(self, response: Response, **_: Any) -> AsyncIterator[Any]:
        body = response.body
        sha256 = hashlib.sha256(body).hexdigest()
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        headers = {
            k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items() if v
        }
        repeat = self.jobstate.content_known(sha256)
        is_html = ctype.split(";")[0].strip() in _HTML_TYPES or ctype.startswith("text/")
        access = classify(response.status, response.headers, body, response.url)
        queued_for = tuple(response.meta.get("heroes_queued_for", ()))
        chain = (*queued_for, *response.meta.get("redirect_urls", ()), response.request.url)
        waits = int(response.meta.get("heroes_queue_waits", 0))
        if access.state == QUEUE and waits < self.options.queue_max_waits:
            wait = access.wait_s if access.wait_s is not None else 5.0
            # The page's own refresh rule, bounded: a queue that asks for an hour is not
            # waited out in one go.
            await asyncio.sleep(min(max(wait, 0.5), self.options.queue_max_wait_s))
            target = access.next_url or response.url
            if urlsplit(target).hostname != urlsplit(response.url).hostname:
                target = response.url
            yield Request(target, callback=self.parse, errback=self.failed, dont_filter=True,
                          meta={"heroes_queue_waits": waits + 1,
                                "heroes_queued_for": tuple(dict.fromkeys(chain)),
                                "depth": response.meta.get("depth", 0)})
            return
        rendered = False
        host = urlsplit(response.url).hostname or ""
        if (access.state == JS_REQUIRED and self.options.render_auto) or (
            host in self.options.render and is_html
        ):
            html = await self._render(response.url)
            if html is not None:
                body, rendered = html.encode("utf-8"), True
                headers = {**headers, "Content-Type": "text/html; charset=utf-8"}
                access = classify(response.status, headers, body, response.url,
                                  rendered=True)
        extracted = extract_page(response.url, body, headers) if is_html else None
        media: list[Media] = []
        # A rendered page's media stay unfetched: the browser refused them, and so do we.
        if extracted is not None and self.options.fetch_media and not repeat \
                and not access.challenge and not rendered:
            for url in extracted.media_urls[:MAX_MEDIA_PER_PAGE]:
                media.append(await self._hash_media(url))
        favicon = ("", "")
        if extracted is not None and self.options.fetch_media and not access.challenge:
            favicon = await self._favicon(response, host)
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
            pivots=self._pivots(response, extracted, media, favicon),
            etag=response.headers.get(b"ETag", b"").decode("latin-1"),
            last_modified=response.headers.get(b"Last-Modified", b"").decode("latin-1"),
        )
        del body
        # The links go to the frontier before the page item, whose passing the pipelines acks
        # the page: a crawler killed between the two fetches the page again, never a page
        # done whose links were lost. max_depth 0 means "these pages only" (Scrapy's
        # DEPTH_LIMIT 0 would mean no limit).
        if not (extracted is None or repeat or self.options.max_depth == 0
                or access.challenge):
            for link in extracted.links:
                yield Request(link, callback=self.parse, errback=self.failed)
            # Onions written out in the text are services too.
            for url in named_onion_urls(extracted):
                yield Request(url, callback=self.parse, errback=self.failed)
        yield PageItem(page, tuple(dict.fromkeys(chain)), server=headers.get("Server", ""),
                       access=access, tls=response.meta.get("heroes_tls"))

    def _pivots(self, response: Response, extracted: Any, media: list[Media],
                favicon: tuple[str, str]) -> Pivots:
        """The page's pivots: its own, its headers', its certificate's, its images' EXIF
        and its service's favicon (``favicon``: the hash, or '' and the error)."""
        found: dict[str, list[str]] = {k: list(v) for k, v in
                                       (extracted.pivots if extracted else {}).items()}
        errors: list[str] = []
        names = headers_hash(response.headers.keys())
        if names:
            found["headers"] = [names]
        tls = response.meta.get("heroes_tls")
        if tls and tls.get("sha256"):
            found["tls"] = [tls["sha256"]]
        if favicon[0]:
            found["favicon"] = [favicon[0]]
        elif favicon[1]:
            errors.append(favicon[1])
        for item in media:
            exif, error = self._media_exif.get(item.url, (None, None))
            if error:
                errors.append(f"exif: {item.url}: {error}")
            if exif is None:
                continue
            for name, value in (("exif_camera", exif.camera), ("exif_serial", exif.serial),
                                ("gps", exif.gps)):
                if value:
                    found.setdefault(name, []).append(value)
        found = {name: list(dict.fromkeys(values)) for name, values in found.items()}
        return Pivots(**found, errors=errors)

    async def _favicon(self, response: Response, host: str) -> tuple[str, str]:
        """The favicon hash of ``host`` (or '' and why not), fetched once per re-check."""
        now = time.monotonic()
        cached = self._favicons.get(host)
        max_age = max(self.options.recrawl_interval_h * 3600, FAVICON_MIN_AGE_S)
        if cached is None or now - cached[0] > max_age:
            future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
            self._favicons[host] = (now, future)
            try:
                root = lxml.html.document_fromstring(response.body[:65536] or b"<html/>")
            except (etree.ParserError, etree.XMLSyntaxError, ValueError):
                root = None
            try:
                future.set_result(await self._fetch_favicon(favicon_url(root, response.url)))
            except BaseException:
                future.set_result(("", "favicon: not fetched"))
                raise
            return future.result()
        return await asyncio.shield(cached[1])

    async def _fetch_favicon(self, url: str) -> tuple[str, str]:
        request = Request(url, meta={"download_maxsize": 0, MEDIA_CAP: FAVICON_MAX_BYTES},
                          dont_filter=True)
        try:
            response = await self.crawler.engine.download_async(request)
        except OutOfScope as exc:
            return "", f"favicon: {url}: not fetched: out of scope ({exc.reason})"
        except Exception as exc:
            return "", f"favicon: {url}: {type(exc).__name__}: {str(exc)[:200]}"
        try:
            if response.status != 200:
                # No icon is a common state, not an error worth a line on every page.
                return "", ""
            if len(response.body) > FAVICON_MAX_BYTES:
                return "", f"favicon: {url}: over {FAVICON_MAX_BYTES} bytes"
            try:
                return favicon_hash(response.body), ""
            except PivotError as exc:
                return "", f"favicon: {url}: {exc}"
        finally:
            # Only the hash lives on; the icon's bytes go out of scope here.
            del response
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("heroes/favicon/fetched")

    async def _render(self, url: str) -> str | None:
        """The DOM of ``url`` after its scripts ran, or None when rendering is off or fails."""
        if self._renderer is False:
            return None
        if self._renderer is None:
            endpoints = tor_endpoints(self.crawler.settings)
            if not endpoints:
                self._renderer = False
                return None
            self._renderer = Renderer(self.options, endpoints[0], self.crawler.stats)
            self.crawler.signals.connect(self._close_renderer, signal=signals.spider_closed)
        try:
            result = await self._renderer.render(url, self.options.user_agent)
        except RenderUnavailable as exc:
            log.warning("rendering is off: %s", exc)
            self._renderer = False
            return None
        except Exception as exc:
            log.info("render failed: %s: %s", url, f"{type(exc).__name__}: {str(exc)[:200]}")
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("heroes/render/failed")
            return None
        return result.html

    async def _close_renderer(self, **_: Any) -> None:
        renderer, self._renderer = self._renderer, False
        if isinstance(renderer, Renderer):
            await renderer.close()

    async def _hash_media(self, url: str) -> Media:
        if url in self._media_cache:
            return self._media_cache[url]
        cap = self.options.max_media_bytes
        request = Request(url, meta={"download_maxsize": 0, MEDIA_CAP: cap}, dont_filter=True)
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
                result = await self._hash_body(url, response.body, ctype, cap)
            # Only the hashes live on; the response (and its bytes) goes out of scope here.
            del response
        if self.crawler.stats is not None:
            # A video that does not decode still has its byte hashes: hashed, with its error.
            self.crawler.stats.inc_value("heroes/media/" + ("hashed" if result.sha256 else "error"))
            if result.truncated:
                self.crawler.stats.inc_value("heroes/media/truncated")
        self._cache_media(url, result)
        return result

    async def _hash_body(self, url: str, body: bytes, ctype: str, cap: int) -> Media:
        """The hashes of one media body, computed in a worker thread."""
        try:
            async with self._hashers:
                hashes = await asyncio.to_thread(hash_media, body, ctype, max_bytes=cap,
                                                 video=self.video_limits)
        except Exception as exc:
            # A decoder that breaks on one hostile file costs that file, never the page.
            log.warning("media hashing failed: %s: %s: %s", url, type(exc).__name__, exc)
            return Media(url=url, error=f"hashing failed: {type(exc).__name__}")
        if hashes.exif is not None or hashes.exif_error:
            self._media_exif[url] = (hashes.exif, hashes.exif_error)
        return Media(
            url=url,
            md5=hashes.md5,
            sha1=hashes.sha1,
            sha256=hashes.sha256,
            pdq=hashes.pdq,
            pdq_quality=hashes.pdq_quality,
            pdq_dihedral=hashes.pdq_dihedral,
            size=hashes.size,
            content_type=ctype or None,
            kind=hashes.kind,
            truncated=hashes.truncated,
            vpdq=hashes.vpdq,
            duration_s=hashes.duration_s,
            error=hashes.error,
        )

    def _cache_media(self, url: str, result: Media) -> None:
        """Keep ``result`` for ``url``, dropping the oldest entries past either bound."""
        frames = len(result.vpdq or ())
        if url in self._media_cache:  # two pages fetched it at once
            self._cached_frames -= len(self._media_cache.pop(url).vpdq or ())
        while self._media_cache and (len(self._media_cache) >= MEDIA_CACHE_SIZE
                                     or self._cached_frames + frames > MEDIA_CACHE_FRAMES):
            old = self._media_cache.pop(next(iter(self._media_cache)))
            self._cached_frames -= len(old.vpdq or ())
            self._media_exif.pop(old.url, None)
        self._media_cache[url] = result
        self._cached_frames += frames

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
