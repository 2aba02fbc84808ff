"""``PageCapture``: every page a crawl fetches goes into WARC files, and into the capture log.

Hooked into a crawl by :class:`crawler.pipelines.SpoolPipeline`. Outcomes per response of a
page request (Scrapy's ``response_received`` signal):

* a text body (:func:`crawler.warc.records.is_text`): a ``request`` and a ``response``
  record;
* any other body: a ``request`` record and a ``metadata`` record of its hashes and size;
* media downloads (requests without a page callback) write nothing here: their hashes come
  with the page item, as one ``metadata`` record per media file, never their bytes.

When the page item arrives, a ``page_capture`` record goes to the capture log: url, host,
fetch time, status, body SHA-256, the response's payload digest, its WARC file, offset and
length, and every record of the page (file, offset, length, WARC-Record-ID, type). Records
are made durable (fsync of the WARC file, then the log) before the pipeline commits the
pages they hold. Reads ``[crawler] warc``, ``warc_max_bytes`` and ``data_dir``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Request, Response

from config import Settings
from crawler.settings import HEROES_JOB, heroes_settings
from crawler.warc.files import CaptureLog, WarcFiles, Written
from crawler.warc.records import (
    is_text,
    metadata_record,
    new_writer,
    payload_digest,
    record_id,
    request_record,
    response_record,
)
from documents.base import utcnow
from documents.page import Page

log = logging.getLogger(__name__)


def warc_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "warc"


def capture_log_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "capture" / "capture.jsonl"


def open_capture_log(data_dir: Path | str) -> CaptureLog:
    """The installation's sealed capture log (listed in its evidence registry)."""
    from evidence.registry import CAPTURE, open_log

    return open_log(data_dir, CAPTURE, capture_log_path(data_dir)).open()


def _pairs(headers: Any) -> list[tuple[str, str]]:
    """Scrapy ``Headers`` (bytes -> list of bytes) as (name, value) pairs, in order."""
    out = []
    for name, values in headers.items():
        for value in values or [b""]:
            out.append((name.decode("latin-1"), value.decode("latin-1")))
    return out


@dataclass
class _Fetched:
    written: list[Written]
    response_id: str
    digest: str


def _version() -> str:
    try:
        return importlib_metadata.version("heroes")
    except importlib_metadata.PackageNotFoundError:
        return "0+unknown"


class PageCapture:
    """Writes a crawl's WARC records and its capture-log records."""

    def __init__(self, settings: Settings, capture_log: CaptureLog, job: str = ""):
        self.capture_log = capture_log
        self.job = job
        info = {"software": f"heroes/{_version()} warcio/{importlib_metadata.version('warcio')}",
                "format": "WARC File Format 1.1",
                "isPartOf": job,
                "description": "Text bodies are stored; media files only as metadata records "
                               "of their hashes and size, never their bytes."}
        self.files = WarcFiles(warc_dir(settings.data_dir), settings.crawler.warc_max_bytes,
                               capture_log, info)
        self.files.recover()
        self._fetched: dict[str, _Fetched] = {}
        self._batch: list[dict[str, Any]] = []
        self.pages = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageCapture | None:
        settings = heroes_settings(crawler.settings)
        if not settings.crawler.warc:
            log.info("page captures (WARC) are off (crawler.warc = false)")
            return None
        capture = cls(settings, open_capture_log(settings.data_dir),
                      job=str(crawler.settings.get(HEROES_JOB) or ""))
        crawler.signals.connect(capture.on_response, signal=signals.response_received)
        return capture

    def on_response(self, response: Response, request: Request, **_: Any) -> None:
        """Write the records of a page response (media downloads are left alone)."""
        if request.callback is None:
            return  # a media download: its hashes come with the page item
        at = utcnow()
        body = response.body
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1")
        writer = new_writer(None)
        req = request_record(writer, response.url, request.method, _pairs(request.headers), at)
        if is_text(ctype, body):
            main = response_record(writer, response.url, response.status,
                                   _pairs(response.headers), body, at, record_id(req))
        else:
            main = metadata_record(writer, response.url, {
                "stored": "hashes only", "status": response.status, "content_type": ctype,
                "size": len(body), "md5": hashlib.md5(body).hexdigest(),
                "sha1": hashlib.sha1(body).hexdigest(),
                "sha256": hashlib.sha256(body).hexdigest()}, at, record_id(req))
        written = self.files.write([req, main])
        self._fetched[response.url] = _Fetched(written, record_id(main), payload_digest(main))

    def page(self, page: Page) -> None:
        """Add the page's media records and queue its capture-log record."""
        fetched = self._fetched.pop(page.url, None)
        if fetched is None:
            return  # a failed fetch: nothing was received
        writer = new_writer(None)
        media = [metadata_record(writer, m.url, {
            "page": page.url, "md5": m.md5, "sha1": m.sha1, "sha256": m.sha256, "pdq": m.pdq,
            "pdq_quality": m.pdq_quality, "size": m.size, "content_type": m.content_type,
            "kind": m.kind, "truncated": m.truncated,
            "error": m.error, "stored": "hashes only"}, page.fetched_at, fetched.response_id)
            for m in page.media]
        written = fetched.written + (self.files.write(media) if media else [])
        self._queue(page.url, page.fetched_at, page.status, page.sha256, fetched, written)

    def _queue(self, url: str, at: datetime | None, status: int | None, sha256: str,
               fetched: _Fetched, written: list[Written]) -> None:
        main = fetched.written[-1]
        self._batch.append({
            "type": "page_capture", "url": url, "host": urlsplit(url).hostname or "",
            "job": self.job, "fetched_at": at.isoformat() if at else main.date,
            "status": status, "sha256": sha256, "payload_digest": fetched.digest,
            "warc": main.warc, "offset": main.offset, "length": main.length,
            "record_id": fetched.response_id, "records": [w.to_json() for w in written]})
        self.pages += 1

    def sync(self) -> None:
        """WARC bytes to disk, then their capture-log records (one group commit)."""
        self.files.sync()
        if self._batch:
            batch, self._batch = self._batch, []
            self.capture_log.append_many(batch)

    def close(self) -> None:
        # Responses whose page item never came (the spider failed on them) are captured too.
        for url, fetched in list(self._fetched.items()):
            self._queue(url, None, None, "", fetched, fetched.written)
        self._fetched.clear()
        self.sync()
        self.files.close_current()
