"""WARC/1.1 records of one page capture, built with ``warcio`` (pure: nothing is written here).

* text content (HTML, XHTML, plain text): a ``request`` record (the request line and the
  headers as sent) and a ``response`` record (status line, headers, the body as the spider
  read it). The body is stored decoded, so ``Content-Encoding``/``Transfer-Encoding`` are
  renamed ``X-Archive-Orig-*`` and ``Content-Length`` is the stored length;
* anything else, and every media file of a page: a ``metadata`` record (JSON) holding its
  hashes (MD5, SHA-1, SHA-256, PDQ), size and content type, never its bytes.

Digests are SHA-256 (``WARC-Payload-Digest: sha256:<base32>``), so a response record's
payload digest is the page document's ``sha256``. Reads no settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from identifiers.encodings import b32decode, b32encode

WARC_VERSION = "WARC/1.1"
METADATA_TYPE = "application/json"
_TEXT_TYPES = ("text/", "application/xhtml", "application/xml", "application/json")
# Bodies with one of these openings are media whatever their Content-Type says.
_MEDIA_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM", b"\x00\x00\x00",
                b"%PDF", b"PK\x03\x04", b"\x1a\x45\xdf\xa3", b"OggS", b"ID3", b"fLaC")
_RENAMED = ("content-encoding", "transfer-encoding")


class Sha256WARCWriter(WARCWriter):
    """warcio's writer with SHA-256 block and payload digests instead of SHA-1."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def new_writer(out: Any) -> Sha256WARCWriter:
    return Sha256WARCWriter(out, gzip=True, warc_version=WARC_VERSION)


def sha256_label(hex_digest: str) -> str:
    """A hex SHA-256 as the labelled base32 form WARC digests use."""
    return "sha256:" + b32encode(bytes.fromhex(hex_digest))


def label_to_hex(label: str) -> str:
    """``sha256:<base32>`` back to hex ('' for another algorithm or a value that is not base32)."""
    algo, _, value = label.partition(":")
    if algo.lower() != "sha256":
        return ""
    try:
        return b32decode(value).hex()
    except ValueError:
        return ""


def is_text(content_type: str, body: bytes) -> bool:
    """Whether a body may be stored: declared text and not shaped like a media file."""
    ctype = content_type.split(";")[0].strip().lower()
    if body[:4].startswith(_MEDIA_MAGIC) or b"\x00" in body[:1024]:
        return False
    if ctype:
        return ctype.startswith(_TEXT_TYPES) or ctype.endswith(("+xml", "+json"))
    # No declared type: only a body that decodes as UTF-8 counts as text.
    try:
        body[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 65530  # a multi-byte character cut by the slice
    return True


def warc_date(at: datetime) -> str:
    """WARC-Date: UTC with microseconds (a naive time is taken as local time)."""
    return datetime_to_iso_date(at.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def _headers(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in items]


def request_record(writer: WARCWriter, url: str, method: str,
                   headers: Iterable[tuple[str, str]], at: datetime) -> ArcWarcRecord:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = _headers(headers)
    if not any(k.lower() == "host" for k, _ in sent):
        sent.insert(0, ("Host", parts.netloc))
    http = StatusAndHeaders(f"{method} {target} HTTP/1.1", sent, is_http_request=True)
    return writer.create_warc_record(url, "request", http_headers=http,
                                     warc_headers_dict={"WARC-Date": warc_date(at)})


def response_record(writer: WARCWriter, url: str, status: int,
                    headers: Iterable[tuple[str, str]], body: bytes, at: datetime,
                    request_id: str = "") -> ArcWarcRecord:
    kept: list[tuple[str, str]] = []
    for name, value in _headers(headers):
        low = name.lower()
        if low in _RENAMED:
            kept.append((f"X-Archive-Orig-{name}", value))
        elif low != "content-length":
            kept.append((name, value))
    kept.append(("Content-Length", str(len(body))))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    http = StatusAndHeaders(f"{status} {reason}", kept, protocol="HTTP/1.1")
    extra = {"WARC-Date": warc_date(at)}
    if request_id:
        extra["WARC-Concurrent-To"] = request_id
    return writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                     http_headers=http, warc_headers_dict=extra)


def metadata_record(writer: WARCWriter, url: str, fields: dict[str, Any], at: datetime,
                    refers_to: str = "") -> ArcWarcRecord:
    """A JSON ``metadata`` record about ``url`` (a media file's hashes, never its bytes)."""
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()
    extra = {"WARC-Date": warc_date(at), "Content-Type": METADATA_TYPE}
    if refers_to:
        extra["WARC-Refers-To"] = refers_to
    return writer.create_warc_record(url, "metadata", payload=BytesIO(body), length=len(body),
                                     warc_content_type=METADATA_TYPE, warc_headers_dict=extra)


def warcinfo_record(writer: WARCWriter, filename: str, info: dict[str, str]) -> ArcWarcRecord:
    return writer.create_warcinfo_record(filename, info)


def record_id(record: ArcWarcRecord) -> str:
    return str(record.rec_headers.get_header("WARC-Record-ID"))


def payload_digest(record: ArcWarcRecord) -> str:
    return str(record.rec_headers.get_header("WARC-Payload-Digest") or "")
