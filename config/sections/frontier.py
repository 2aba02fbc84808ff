"""Settings of the crawl frontier: where queued URLs live, leases, canonical URLs, URL traps.

Read by :mod:`crawler.frontier` (the store and the Scrapy scheduler). The per-host page cap
and the per-host lease cap are ``crawler.max_pages_per_host`` and
``crawler.concurrency_per_host``; the Redis server is ``coordination.redis_url``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from config.sections.base import Section

SESSION_PARAMS = ["phpsessid", "jsessionid", "aspsessionid", "sessionid", "session_id", "sid",
                  "sessid"]


class FrontierSettings(Section):
    backend: Literal["sqlite", "redis"] = Field(
        "sqlite", description="Where queued URLs live: \"sqlite\" (one machine) or \"redis\" "
        "(coordination.redis_url; many crawler processes and machines share it).")
    scope: Literal["job", "shared"] = Field(
        "job", description="\"job\": one frontier per crawl job (its job.sqlite, or Redis keys "
        "of the job); \"shared\": one frontier for every job (data_dir/frontier.sqlite, or "
        "the Redis keys \"shared\"), so a URL crawled by one job is not queued by another.")
    key_prefix: str = Field(
        "heroes:frontier", min_length=1, pattern=r"^[A-Za-z0-9:._-]+$",
        description="Prefix of the frontier's Redis keys.")
    lease_s: float = Field(
        300.0, gt=0, le=86400, description="A leased URL is one crawler's for this long; the "
        "crawler renews its leases every third of it, and the leases of a crawler that died "
        "return to the queue when it runs out (at once when it died on this machine).")
    window: int = Field(
        32, ge=1, le=10_000, description="URLs a crawler leases ahead and holds in memory.")
    retry_base_s: float = Field(
        60.0, gt=0, description="First wait before a failed URL is tried again; doubles with "
        "each failure in a row.")
    retry_max_s: float = Field(
        86400.0, gt=0, description="The wait before a retry grows to this at most.")
    max_attempts: int = Field(
        8, ge=1, le=1000, description="Failures in a row after which a URL is given up.")
    session_params: list[str] = Field(
        default_factory=lambda: list(SESSION_PARAMS), description="Query parameters dropped "
        "from URLs before deduplication (session ids; compared case-insensitively).")
    max_path_segments: int = Field(
        24, ge=1, le=1000, description="URLs with more path segments than this are not queued "
        "(URL trap).")
    max_segment_repeats: int = Field(
        3, ge=1, le=100, description="URLs in which one path segment occurs more often than "
        "this are not queued (URL trap: /a/b/a/b/a/b/...).")
    host_affinity_s: float = Field(
        60.0, ge=0, le=86400, description="A host stays with the crawler that leased its URLs "
        "while it holds any of them and this long after its last lease, so one crawler's "
        "politeness (streams, delay, a rate limit it learned from 429s) sees all of that "
        "host's traffic; 0: any crawler may lease any host's URLs at any time.")
    poll_s: float = Field(
        0.5, gt=0, le=60, description="A crawler that found nothing due asks the frontier "
        "again this often (other crawlers may have queued URLs meanwhile).")
    pause_check_s: float = Field(
        5.0, gt=0, le=600, description="While the frontier store is down, the crawl pauses and "
        "tries it again this often.")
