"""Settings of the onion crawler (read by crawler/settings.py, the download handler, the
middlewares, the spider and ``heroes crawl``)."""

from __future__ import annotations

from pydantic import Field

from config.sections.base import Section


class CrawlerSettings(Section):
    seeds: list[str] = Field(
        default_factory=list, description="Start URLs (onion URLs by default)."
    )
    allow_clearnet: bool = Field(
        False,
        description="Fetch non-onion hosts too. Off: every other host is dropped and counted.",
    )
    concurrency: int = Field(16, ge=1, le=1024, description="Requests in flight at once.")
    concurrency_per_host: int = Field(
        8,
        ge=1,
        le=1024,
        description="Requests in flight to one onion at once (Tor streams per service).",
    )
    max_pages_per_host: int = Field(
        10_000, ge=1, description="Pages fetched per onion host at most."
    )
    max_depth: int = Field(10, ge=0, le=1000, description="Link depth from a seed at most.")
    connect_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Timeout to open a stream through Tor."
    )
    read_timeout_s: float = Field(60.0, gt=0, le=3600, description="Timeout of a whole download.")
    max_response_bytes: int = Field(
        5_000_000,
        ge=1024,
        description="Response size cap (decompressed); larger downloads are cut.",
    )
    fetch_media: bool = Field(
        True, description="Fetch images to hash them in memory (never stored)."
    )
    max_media_bytes: int = Field(10_000_000, ge=1024, description="Size cap of one media download.")
    user_agent: str = Field(
        "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0",
        description="User-Agent header (Tor Browser's, so the crawler does not stand out).",
    )
    recrawl_interval_h: float = Field(
        24.0, gt=0, description="Hours between re-crawls of a live service."
    )
    dead_backoff_base: float = Field(
        1.5, ge=1.0, le=10, description="Backoff factor for dead services."
    )
