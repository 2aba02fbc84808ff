"""Canonical URLs: the form a URL is deduplicated under, and its short key.

w3lib's ``canonicalize_url`` (the one Scrapy's request fingerprints use) already lower-cases
scheme and host, sorts the query, drops the fragment and normalises percent-escapes; it
keeps default ports and compares parameter names case-sensitively, so those two steps
(``:80``/``:443`` dropped, session-id parameters removed in any case) are done here first.
Pure functions; the session parameters come from ``frontier.session_params``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
KEY_BYTES = 12  # 96 bits: no collision to expect among billions of URLs


class BadUrl(ValueError):
    """A URL that cannot be queued (no host, or not http/https)."""


def canonical_url(url: str, session_params: Iterable[str] = ()) -> str:
    """``url`` in canonical form; raises :class:`BadUrl` for a URL without http(s) host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BadUrl(f"unparsable URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise BadUrl(f"not an http(s) URL with a host: {url!r}")
    netloc = parts.hostname.lower()
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username or parts.password:
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
    query = parts.query
    drop = {p.lower() for p in session_params}
    if drop and query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, v) for k, v in pairs if k.lower() not in drop])
    return canonicalize_url(urlunsplit((scheme, netloc, parts.path or "/", query, "")))


def url_key(canonical: str) -> str:
    """The dedup key of a canonical URL (hex digest, 24 characters)."""
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=KEY_BYTES).hexdigest()


def host_of(canonical: str) -> str:
    return urlsplit(canonical).hostname or ""
