"""Unit tests of the WARC record building, the rotating files and the capture glue."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request, Response
from warcio.archiveiterator import ArchiveIterator

from config import load_settings
from crawler.warc.capture import PageCapture, warc_dir
from crawler.warc.files import OPEN_SUFFIX, WarcFiles
from crawler.warc.records import (
    is_text,
    label_to_hex,
    metadata_record,
    new_writer,
    record_id,
    request_record,
    response_record,
    sha256_label,
)
from crawler.warc.select import capture_selection, write_warc
from documents.page import Media, Page

AT = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
URL = "http://exampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion/market?page=2"
HTML = b"<html><head><title>Listing</title></head><body>generic market text</body></html>"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class ListLog:
    """A capture log in memory (the production one is evidence's sealed log)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def append_many(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        start = len(self.items)
        self.items.extend(items)
        return [{"seq": start + i + 1, "data": d} for i, d in enumerate(items)]


def read_all(path: Path) -> list[tuple[str, dict[str, str], bytes]]:
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests=True):
            out.append((rec.rec_type, dict(rec.rec_headers.headers), rec.content_stream().read()))
    return out


def test_response_record_round_trip(tmp_path: Path) -> None:
    writer = new_writer(None)
    req = request_record(writer, URL, "GET", [("User-Agent", "ua"), ("Accept", "*/*")], AT)
    resp = response_record(writer, URL, 200, [("Content-Type", "text/html"),
                                              ("Content-Encoding", "gzip"),
                                              ("Content-Length", "9")], HTML, AT, record_id(req))
    path = tmp_path / "one.warc.gz"
    with path.open("wb") as fh:
        new_writer(fh).write_record(req)
        new_writer(fh).write_record(resp)
    with path.open("rb") as fh:
        records = list(ArchiveIterator(fh, check_digests=True))
        # warcio closes streams lazily: read each record while iterating instead
    with path.open("rb") as fh:
        it = ArchiveIterator(fh, check_digests=True)
        first = next(it)
        assert first.rec_type == "request"
        line = f"{first.http_headers.protocol} {first.http_headers.statusline}"
        assert line == "GET /market?page=2 HTTP/1.1"
        assert first.http_headers.get_header("Host") == URL.split("/")[2]
        second = next(it)
        assert second.rec_type == "response"
        assert second.rec_headers.get_header("WARC-Concurrent-To") == record_id(req)
        assert second.rec_headers.get_header("WARC-Date") == "2026-12-01T12:00:00.123456Z"
        assert second.http_headers.get_header("Content-Encoding") is None
        assert second.http_headers.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
        assert second.http_headers.get_header("Content-Length") == str(len(HTML))
        assert second.content_stream().read() == HTML
        digest = second.rec_headers.get_header("WARC-Payload-Digest")
        assert label_to_hex(digest) == hashlib.sha256(HTML).hexdigest()
    assert len(records) == 2
    assert sha256_label(hashlib.sha256(HTML).hexdigest()) == digest


def test_metadata_record_holds_json() -> None:
    buf = io.BytesIO()
    writer = new_writer(buf)
    writer.write_record(metadata_record(writer, URL + "/a.png", {"sha256": "ab", "size": 3},
                                        AT, "<urn:uuid:x>"))
    buf.seek(0)
    rec = next(iter(ArchiveIterator(buf)))
    assert rec.rec_type == "metadata"
    assert rec.rec_headers.get_header("Content-Type") == "application/json"
    assert rec.rec_headers.get_header("WARC-Refers-To") == "<urn:uuid:x>"
    assert json.loads(rec.content_stream().read()) == {"sha256": "ab", "size": 3}


@pytest.mark.parametrize(("ctype", "body", "text"), [
    ("text/html; charset=utf-8", HTML, True),
    ("application/xhtml+xml", HTML, True),
    ("text/plain", b"notes", True),
    ("", "plain words é".encode(), True),
    ("", b"\xff\xfe\x00\x01binary", False),
    ("text/html", PNG, False),  # a media body served as HTML is still media
    ("image/png", PNG, False),
    ("application/octet-stream", b"abc", False),
])
def test_is_text(ctype: str, body: bytes, text: bool) -> None:
    assert is_text(ctype, body) is text


def _records(n: int) -> list[Any]:
    writer = new_writer(None)
    # Random text: it does not compress, so each record has about its own size on disk.
    rng = random.Random(n)
    return [response_record(writer, f"{URL}{i}", 200, [("Content-Type", "text/plain")],
                            "".join(rng.choice(string.ascii_letters) for _ in range(3000))
                            .encode(), AT) for i in range(n)]


def test_files_rotate_by_size_and_seal(tmp_path: Path) -> None:
    log = ListLog()
    files = WarcFiles(tmp_path, 2000, log, {"software": "test"})
    for rec in _records(3):
        files.write([rec])
    files.close_current()
    sealed = [d for d in log.items if d["type"] == "warc_file"]
    assert len(sealed) == 3  # each record pushed its file past the limit
    for entry in sealed:
        path = tmp_path / entry["name"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["size"] == path.stat().st_size
        kinds = [k for k, _, _ in read_all(path)]
        assert kinds == ["warcinfo", "response"] and entry["records"] == 2
        assert entry["first"] and entry["last"] == "2026-12-01T12:00:00.123456Z"
    assert not list(tmp_path.glob(f"*{OPEN_SUFFIX}"))


def test_torn_open_file_is_recovered(tmp_path: Path) -> None:
    log = ListLog()
    files = WarcFiles(tmp_path, 10_000_000, log, {"software": "test"})
    written = files.write(_records(2))
    files.sync()
    path = next(tmp_path.glob(f"*{OPEN_SUFFIX}"))
    with path.open("ab") as fh:  # a crash in the middle of the next record
        fh.write(gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n")[:20])
    files._current = None  # the process died: nothing closed it
    again = WarcFiles(tmp_path, 10_000_000, log, {"software": "test"})
    entries = again.recover()
    assert len(entries) == 1 and entries[0]["recovered"] is True
    final = tmp_path / written[0].warc
    assert final.exists() and entries[0]["records"] == 3  # warcinfo + 2 responses
    assert [k for k, _, _ in read_all(final)] == ["warcinfo", "response", "response"]
    assert final.stat().st_size == written[-1].offset + written[-1].length


def test_a_file_another_writer_holds_is_not_recovered(tmp_path: Path) -> None:
    log = ListLog()
    live = WarcFiles(tmp_path, 10_000_000, log, {"software": "test"})
    live.write(_records(1))
    live.sync()
    assert WarcFiles(tmp_path, 10_000_000, log, {"software": "test"}).recover() == []
    assert list(tmp_path.glob(f"*{OPEN_SUFFIX}"))
    live.close_current()
    assert [d["type"] for d in log.items] == ["warc_file"]


def _settings(tmp_path: Path) -> Any:
    return load_settings(None, environ={}, overrides={"data_dir": str(tmp_path)})


def _fetch(capture: PageCapture, url: str, body: bytes, ctype: str) -> Response:
    request = Request(url, callback=lambda r: None, headers={"User-Agent": "ua"})
    cls = HtmlResponse if ctype.startswith("text/html") else Response
    response = cls(url, status=200, headers={"Content-Type": ctype}, body=body, request=request)
    capture.on_response(response=response, request=request)
    return response


def test_page_capture_writes_text_and_only_hashes_of_media(tmp_path: Path) -> None:
    from evidence.registry import CAPTURE
    from evidence.sealedlog import SealedLog

    settings = _settings(tmp_path)
    log = SealedLog(tmp_path / "capture" / "capture.jsonl", CAPTURE)
    capture = PageCapture(settings, log, job="t")
    media_url = URL.rsplit("/", 1)[0] + "/img/a.png"
    # A media download (no page callback) writes nothing by itself.
    capture.on_response(response=Response(media_url, body=PNG),
                        request=Request(media_url))
    _fetch(capture, URL, HTML, "text/html; charset=utf-8")
    blob_url = URL.rsplit("/", 1)[0] + "/file.bin"
    _fetch(capture, blob_url, PNG, "application/octet-stream")
    md = hashlib.md5(PNG).hexdigest()
    page = Page(url=URL, fetched_at=AT, status=200, sha256=hashlib.sha256(HTML).hexdigest(),
                size=len(HTML), media=[Media(url=media_url, md5=md, sha1="a" * 40,
                                             sha256=hashlib.sha256(PNG).hexdigest(),
                                             size=len(PNG), content_type="image/png")])
    capture.page(page)
    capture.page(Page(url=blob_url, fetched_at=AT, status=200,
                      sha256=hashlib.sha256(PNG).hexdigest(), size=len(PNG)))
    capture.close()

    files = sorted(warc_dir(tmp_path).glob("*.warc.gz"))
    assert len(files) == 1
    records = read_all(files[0])
    assert [k for k, _, _ in records] == ["warcinfo", "request", "response", "request",
                                          "metadata", "metadata"]
    for _, _, content in records:
        assert PNG[:64] not in content
    assert PNG[:64] not in gzip.decompress(files[0].read_bytes())
    media = json.loads(records[-1][2])
    assert media["md5"] == md and media["page"] == URL and media["stored"] == "hashes only"
    blob = json.loads(records[4][2])
    assert blob["sha256"] == hashlib.sha256(PNG).hexdigest() and blob["size"] == len(PNG)

    data = [r["data"] for r in log.records()]
    pages = [d for d in data if d["type"] == "page_capture"]
    assert [p["url"] for p in pages] == [URL, blob_url]
    assert label_to_hex(pages[0]["payload_digest"]) == page.sha256
    assert [r["type"] for r in pages[0]["records"]] == ["request", "response", "metadata"]
    assert [d["type"] for d in data][-1] == "warc_file"

    # What an export of this URL bundles: its records, byte ranges, and the sealing record.
    selection = capture_selection(tmp_path, url=URL)
    assert len(selection.page_records) == 1 and not selection.unsealed
    assert [r["data"]["name"] for r in selection.file_records] == [files[0].name]
    out = tmp_path / "bundle.warc.gz"
    write_warc(selection, out)
    assert [k for k, _, _ in read_all(out)] == ["request", "response", "metadata"]
    by_host = capture_selection(tmp_path, service=URL.split("/")[2])
    assert len(by_host.page_records) == 2
    with pytest.raises(ValueError):
        capture_selection(tmp_path)
