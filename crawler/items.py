"""What the spider hands to the pipelines: typed, frozen messages (no dict keys to guess).

Each scheduled request ends in exactly one item, so the frontier can mark it done after the
pipelines (``request_urls``: the request and the redirects that led to it).
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.access.classify import Access
from documents.page import Page


@dataclass(frozen=True)
class PageItem:
    """A fetched page (or a failed fetch: ``page.error`` set) as a ``page`` document.
    ``access``: how the fetch was classified; a challenge page is not indexed as content."""

    page: Page
    request_urls: tuple[str, ...]
    server: str = ""
    access: Access | None = None
    tls: dict[str, str] | None = None


@dataclass(frozen=True)
class SkipItem:
    """A request that was refused before any network use (out of scope, duplicate chain)."""

    url: str
    reason: str
    request_urls: tuple[str, ...]
