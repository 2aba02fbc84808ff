"""Page captures of the lab crawl: WARC files warcio reads back, one response per page with
the page's body digest, a metadata record of hashes per image, no media byte on disk, and
every file and page sealed into the capture log."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections import Counter

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.warc.capture import capture_log_path, warc_dir
from crawler.warc.files import OPEN_SUFFIX
from crawler.warc.records import label_to_hex
from crawler.warc.select import capture_selection
from tests.crawler.conftest import CrawlRun, LabWorld, indexed

pytestmark = pytest.mark.tor


def _records(run: CrawlRun) -> list[dict]:
    out = []
    for path in sorted(warc_dir(run.data_dir).glob("*.warc.gz")):
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                out.append({"file": path.name, "type": rec.rec_type,
                            "uri": rec.rec_headers.get_header("WARC-Target-URI"),
                            "digest": rec.rec_headers.get_header("WARC-Payload-Digest"),
                            "content": rec.content_stream().read()})
    return out


def _media_blobs(world: LabWorld) -> dict[str, bytes]:
    sites = world.dir / "sites"
    blobs = {}
    for url in world.truth["media"]:
        host, path = url.split("/")[2], url.split("/", 3)[3]
        service = next(n for n, s in world.truth["services"].items() if s["onion"] == host)
        blobs[url] = (sites / service / path).read_bytes()
    return blobs


def test_every_page_has_one_response_with_its_digest(lab_crawl: CrawlRun) -> None:
    assert not list(warc_dir(lab_crawl.data_dir).glob(f"*{OPEN_SUFFIX}"))
    records = _records(lab_crawl)
    assert records and records[0]["type"] == "warcinfo"
    responses = Counter(r["uri"] for r in records if r["type"] == "response")
    requests = Counter(r["uri"] for r in records if r["type"] == "request")
    pages = [d for d in indexed(lab_crawl.data_dir, "page") if not d.get("error")]
    assert pages
    by_uri = {r["uri"]: r for r in records if r["type"] == "response"}
    for page in pages:
        assert responses[page["url"]] == 1, page["url"]
        assert requests[page["url"]] == 1, page["url"]
        assert label_to_hex(by_uri[page["url"]]["digest"]) == page["sha256"], page["url"]
        assert hashlib.sha256(by_uri[page["url"]]["content"]).hexdigest() == page["sha256"]


def test_media_only_as_metadata_records_of_hashes(lab_world: LabWorld,
                                                  lab_crawl: CrawlRun) -> None:
    records = _records(lab_crawl)
    meta = {r["uri"]: json.loads(r["content"]) for r in records if r["type"] == "metadata"}
    hashed = {m["url"] for d in indexed(lab_crawl.data_dir, "page") for m in d.get("media", [])
              if m.get("sha256")}
    assert hashed
    for url in hashed:
        truth = lab_world.truth["media"][url]
        assert meta[url]["sha256"] == truth["sha256"] and meta[url]["md5"] == truth["md5"], url
        assert meta[url]["sha1"] and meta[url]["size"] > 0
        assert meta[url]["stored"] == "hashes only"
    media_uris = set(lab_world.truth["media"])
    assert not [r for r in records if r["type"] == "response" and r["uri"] in media_uris]
    # No media byte in any record's content, nor in any file of the data dir, compressed or not.
    blobs = list(_media_blobs(lab_world).values())
    for rec in records:
        assert not any(blob in rec["content"] for blob in blobs), rec["uri"]
    hits = []
    for path in lab_crawl.data_dir.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data += gzip.decompress(data)
        if any(blob in data for blob in blobs):
            hits.append(str(path))
    assert not hits, hits


def test_files_and_pages_sealed_into_the_capture_log(lab_crawl: CrawlRun) -> None:
    from evidence.registry import CAPTURE, listed
    from evidence.sealedlog import SealedLog

    log_path = capture_log_path(lab_crawl.data_dir)
    assert listed(lab_crawl.data_dir)[CAPTURE] == log_path
    data = [r["data"] for r in SealedLog(log_path, CAPTURE).records()]
    files = {d["name"]: d for d in data if d["type"] == "warc_file"}
    on_disk = {p.name: p for p in warc_dir(lab_crawl.data_dir).glob("*.warc.gz")}
    assert set(files) == set(on_disk)
    for name, entry in files.items():
        body = on_disk[name].read_bytes()
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
        assert entry["size"] == len(body)
    pages = [d for d in data if d["type"] == "page_capture"]
    assert {p["url"] for p in pages} >= {d["url"] for d in indexed(lab_crawl.data_dir, "page")
                                         if not d.get("error")}
    # Each page's byte ranges are whole records of the files the log sealed.
    page = next(p for p in pages if p["status"] == 200)
    selection = capture_selection(lab_crawl.data_dir, url=page["url"])
    assert not selection.unsealed and selection.file_records
    for byte_range in selection.ranges:
        with byte_range.path.open("rb") as fh:
            fh.seek(byte_range.offset)
            chunk = fh.read(byte_range.length)
        rec = next(iter(ArchiveIterator(io.BytesIO(chunk))))
        assert rec.rec_headers.get_header("WARC-Record-ID") == byte_range.record_id
