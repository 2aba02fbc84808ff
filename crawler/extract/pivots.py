"""Pivot values of one response, computed in memory (:mod:`documents.pivots` names them).

Pure functions, no I/O: the spider fetches and passes the bytes, and drops them after.

* :func:`favicon_hash` — Shodan's favicon hash: MurmurHash3 (32-bit, signed) of the body's
  base64 with a newline every 76 characters, as a decimal string. A body that is no image
  (an error page served in its place) raises :class:`PivotError`.
* :func:`headers_hash` — 16 hex digits of SHA-256 over the response-header names, lower-cased,
  in the order the server sent them (values differ by request; the order is the software's).
* :func:`dom_hash` — 16 hex digits of SHA-256 over the tag skeleton (tags, nesting; no text,
  no attributes): pages made from one template share it.
* :func:`analytics_ids` — tracker ids in scripts, attributes and text: Google ``UA-``, ``G-``,
  ``GTM-``, AdSense ``ca-pub-``, Matomo/Piwik ``matomo:<host>/<site>``, Yandex Metrika
  ``ym:``, Facebook pixel ``fbq:``, Hotjar ``hotjar:``.
* :func:`pgp_keyids` — the 16-hex key id of every fingerprint (v4: its last 16 digits; v6 its
  first 16), and ids written ``0x`` + 16 hex in the text.
* :func:`exif_pivots` — EXIF camera make and model, body serial, GPS position (``exifread``,
  from a BytesIO; pixels are never decoded). A body with an EXIF block that does not read
  raises :class:`PivotError`.
* :func:`favicon_url` — the icon a page names (``<link rel=icon>``), else ``/favicon.ico``.

No settings.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import urljoin, urlsplit

import exifread
import mmh3
from lxml import etree

log = logging.getLogger(__name__)

# A skeleton is hashed over at most this many elements: a page's template is in its first.
DOM_MAX_ELEMENTS = 20_000
# Analytics ids are looked for in at most this many characters of the page's HTML.
ANALYTICS_SCAN_CHARS = 500_000
# An EXIF block sits at the start of the file (JPEG APP1, TIFF header, PNG eXIf near it).
_EXIF_SCAN_BYTES = 65_536

_IMAGE_MAGIC = (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00", b"\x89PNG", b"\xff\xd8\xff",
                b"GIF8", b"BM", b"RIFF")
_SVG_RE = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE[^>]*>\s*)?<svg\b",
                     re.IGNORECASE | re.DOTALL)

# Each tracker's pattern, with a literal every match contains: a page without the literal
# is not searched with the pattern (most pages carry no tracker at all).
_ANALYTICS_RES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("UA-", re.compile(r"\b(UA-\d{4,10}-\d{1,4})\b"), "{0}"),
    ("G-", re.compile(r"\b(G-[A-Z0-9]{8,12})\b"), "{0}"),
    ("GTM-", re.compile(r"\b(GTM-[A-Z0-9]{4,9})\b"), "{0}"),
    ("ca-pub-", re.compile(r"\b(ca-pub-\d{10,20})\b"), "{0}"),
    ("ym(", re.compile(r"\bym\(\s*(\d{5,12})\s*,\s*['\"]init['\"]"), "ym:{0}"),
    ("mc.yandex.ru/watch/", re.compile(r"mc\.yandex\.ru/watch/(\d{5,12})"), "ym:{0}"),
    ("fbq(", re.compile(r"\bfbq\(\s*['\"]init['\"]\s*,\s*['\"](\d{6,20})['\"]"), "fbq:{0}"),
    ("hjid", re.compile(r"\bhjid\s*:\s*(\d{4,12})\b"), "hotjar:{0}"),
)
_MATOMO_SITE_RE = re.compile(r"""['"]setSiteId['"]\s*,\s*['"]?(\d{1,9})['"]?""")
_MATOMO_URL_RE = re.compile(
    r"""(?:\bu\s*=\s*['"]|\b(?:src|href)\s*=\s*['"]|['"]setTrackerUrl['"]\s*,\s*['"])"""
    r"""((?:https?:)?//[^'"/\s]+)?(/[^'"\s]*)?['"]""")
_MATOMO_PIXEL_RE = re.compile(
    r"""((?:https?:)?//[^'"/\s]+)?/[^'"\s]*(?:matomo|piwik)\.php\?[^'"\s]*?\bidsite=(\d{1,9})""")
_KEYID_RE = re.compile(r"\b0x([0-9A-Fa-f]{16})\b")


class PivotError(ValueError):
    """A pivot that could not be read from its bytes; the message says why."""


@dataclass(frozen=True)
class ExifPivots:
    camera: str = ""
    serial: str = ""
    gps: str = ""


def favicon_hash(body: bytes) -> str:
    """Shodan's ``http.favicon.hash`` of ``body`` (see the module docstring)."""
    if not body:
        raise PivotError("empty body")
    if not (body.startswith(_IMAGE_MAGIC) or _SVG_RE.match(body[:4096])):
        raise PivotError(f"not an image (starts with {body[:16]!r})")
    return str(mmh3.hash(base64.encodebytes(body)))


def headers_hash(names: Iterable[str | bytes]) -> str:
    """16 hex digits over the header names, lower-cased, in order ('' when there are none)."""
    lowered = [
        (n.decode("latin-1") if isinstance(n, bytes) else n).strip().lower() for n in names
    ]
    lowered = [n for n in lowered if n]
    if not lowered:
        return ""
    return hashlib.sha256("\n".join(lowered).encode("latin-1", "replace")).hexdigest()[:16]


def dom_hash(root: etree._Element) -> str:
    """16 hex digits over the tag skeleton of a parsed page ('' for an empty one)."""
    parts: list[str] = []
    count = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        if not isinstance(el.tag, str):  # comments, processing instructions
            continue
        if event == "start":
            count += 1
            if count > DOM_MAX_ELEMENTS:
                break
            parts.append(el.tag.lower())
        else:
            parts.append("/")
    if not parts:
        return ""
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:16]


def _matomo_ids(html: str, page_host: str) -> list[str]:
    out: list[str] = []
    for m in _MATOMO_PIXEL_RE.finditer(html):
        out.append(f"matomo:{_host_of(m.group(1), page_host)}/{m.group(2)}")
    sites = _MATOMO_SITE_RE.findall(html)
    if sites:
        host = page_host
        for m in _MATOMO_URL_RE.finditer(html):
            path = m.group(2) or ""
            if m.group(1) and ("matomo" in path or "piwik" in path or path in ("", "/")
                               or "matomo" in m.group(1) or "piwik" in m.group(1)):
                host = _host_of(m.group(1), page_host)
                break
        out.extend(f"matomo:{host}/{site}" for site in sites)
    return out


def _host_of(url_part: str | None, page_host: str) -> str:
    if not url_part:
        return page_host
    return (urlsplit(url_part if "//" in url_part else f"//{url_part}").hostname or page_host)


def analytics_ids(html: str, page_host: str = "") -> list[str]:
    """Tracker ids in a page's HTML, first occurrence order (see the module docstring)."""
    html = html[:ANALYTICS_SCAN_CHARS]
    found: list[str] = []
    for literal, pattern, shape in _ANALYTICS_RES:
        if literal in html:
            found.extend(shape.format(m) for m in pattern.findall(html))
    if "setSiteId" in html or "idsite=" in html:
        found.extend(_matomo_ids(html, page_host.lower()))
    return list(dict.fromkeys(found))


def pgp_keyids(fingerprints: Sequence[str], text: str = "") -> list[str]:
    """Key ids (16 upper-case hex) of ``fingerprints`` and of ``0x…`` ids in ``text``."""
    ids: list[str] = []
    for fpr in fingerprints:
        fpr = fpr.upper()
        if len(fpr) == 40:
            ids.append(fpr[-16:])
        elif len(fpr) == 64:
            ids.append(fpr[:16])
    ids.extend(m.upper() for m in _KEYID_RE.findall(text))
    return list(dict.fromkeys(ids))


def _has_exif_block(body: bytes) -> bool:
    head = body[:_EXIF_SCAN_BYTES]
    return b"Exif\x00\x00" in head or b"eXIf" in head or head.startswith((b"II*\x00", b"MM\x00*"))


def _ratio(value: Any) -> Fraction:
    return Fraction(value.num, value.den) if hasattr(value, "num") else Fraction(value)


def _degrees(tag: Any, ref: Any, negative: str) -> float:
    d, m, s = (_ratio(v) for v in tag.values[:3])
    if any(r.denominator == 0 for r in (d, m, s)):
        raise PivotError("GPS position with a zero denominator")
    value = float(d + m / 60 + s / 3600)
    if ref is not None and str(ref.printable).strip().upper().startswith(negative):
        value = -value
    return value


def _text(tags: dict[str, Any], key: str) -> str:
    tag = tags.get(key)
    return " ".join(str(tag.printable).split()) if tag is not None else ""


def exif_pivots(body: bytes) -> ExifPivots | None:
    """Camera, serial and GPS of an image's EXIF block; None when it has none."""
    if not _has_exif_block(body):
        return None
    try:
        tags = exifread.process_file(io.BytesIO(body), details=False, debug=False)
    except Exception as exc:  # exifread raises whatever its parser meets in hostile bytes
        raise PivotError(f"EXIF block does not read: {type(exc).__name__}: {exc}"[:200]) from exc
    if not tags:
        raise PivotError("EXIF block present but no tag reads")
    make, model = _text(tags, "Image Make"), _text(tags, "Image Model")
    # Most cameras repeat their make at the start of the model.
    camera = model if make and model.lower().startswith(make.lower()) else f"{make} {model}"
    serial = _text(tags, "EXIF BodySerialNumber") or _text(tags, "EXIF CameraSerialNumber")
    gps = ""
    lat, lon = tags.get("GPS GPSLatitude"), tags.get("GPS GPSLongitude")
    if lat is not None and lon is not None:
        try:
            la = _degrees(lat, tags.get("GPS GPSLatitudeRef"), "S")
            lo = _degrees(lon, tags.get("GPS GPSLongitudeRef"), "W")
        except (TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
            raise PivotError(f"GPS position does not read: {exc}"[:200]) from exc
        if -90 <= la <= 90 and -180 <= lo <= 180:
            gps = f"{la:.5f},{lo:.5f}"
        else:
            raise PivotError(f"GPS position out of range: {la!r},{lo!r}")
    return ExifPivots(camera=camera.strip(), serial=serial, gps=gps)


def favicon_url(root: etree._Element | None, base: str) -> str:
    """The URL of the icon a page names (``<link rel="icon">``, ``shortcut icon``,
    ``apple-touch-icon`` last), else ``/favicon.ico`` of its host."""
    if root is not None:
        best: tuple[int, str] | None = None
        for el in root.iter("link"):
            rels = (el.get("rel") or "").lower().split()
            href = (el.get("href") or "").strip()
            if not href or href.startswith("data:"):
                continue
            rank = 0 if "icon" in rels else 1 if "apple-touch-icon" in rels else None
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, href)
        if best is not None:
            try:
                url = urljoin(base, best[1])
            except ValueError:
                url = ""
            if url.lower().startswith(("http://", "https://")):
                return url
    return urljoin(base, "/favicon.ico")
