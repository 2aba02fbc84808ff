"""Bytes to text for HTML: the charset from the HTTP header, a BOM or a ``<meta>`` tag, else
UTF-8, else windows-1252; undecodable bytes become U+FFFD. Never raises. No settings."""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import Any

_HEADER_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET_RE = re.compile(
    rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE
)
_META_SNIFF_BYTES = 4096
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
FALLBACK = codecs.lookup("windows-1252").name  # "cp1252"
# Characters lxml refuses in a str (NUL and other C0 controls except tab/newline/CR).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return value if isinstance(value, str) else str(value)


def header_value(headers: Mapping[Any, Any] | None, name: str) -> str:
    """A header by case-insensitive name, '' when absent. Keys and values may be str or
    bytes, values also lists of them (Scrapy's ``Headers``)."""
    if not headers:
        return ""
    wanted = name.lower()
    for key, value in headers.items():
        if _text(key).lower() == wanted:
            return _text(value)
    return ""


def declared_charset(body: bytes, headers: Mapping[Any, Any] | None = None) -> str | None:
    """The first usable declared charset: Content-Type header, BOM, then ``<meta>``."""
    m = _HEADER_CHARSET_RE.search(header_value(headers, "content-type"))
    if m and (codec := _codec(m.group(1))):
        return codec
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    m = _META_CHARSET_RE.search(body[:_META_SNIFF_BYTES])
    if m:
        return _codec(m.group(1).decode("ascii", "replace"))
    return None


def decode_html(body: bytes, headers: Mapping[Any, Any] | None = None) -> tuple[str, str]:
    """(text safe to give lxml, name of the codec used)."""
    charset = declared_charset(body, headers)
    if charset is None:
        try:
            text, charset = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            charset = FALLBACK
            text = body.decode(charset, "replace")
    else:
        text = body.decode(charset, "replace")
    return _CONTROL_RE.sub(" ", text.lstrip("\ufeff")), charset
