"""The crawl frontier: queued URLs in a store shared by crawler processes, and the Scrapy
scheduler that leases from it.

:func:`open_store` opens the store the settings name: ``frontier.backend`` "sqlite" (the
job's database, or ``<data_dir>/frontier.sqlite`` with ``frontier.scope = "shared"``) or
"redis" (``coordination.redis_url``, keys under ``frontier.key_prefix``). The scheduler is
:class:`crawler.frontier.scheduler.Frontier`. Reads ``[frontier]``, ``[coordination]``
``redis_url``, ``[crawler]`` ``max_pages_per_host`` and ``concurrency_per_host``, and
``data_dir``.
"""

from __future__ import annotations

from pathlib import Path

from config import Settings
from crawler.frontier.store import (
    FrontierCounts,
    FrontierStore,
    FrontierUnavailable,
    HostState,
    Leased,
    NewUrl,
    Outcome,
)

__all__ = [
    "SHARED",
    "FrontierCounts",
    "FrontierStore",
    "FrontierUnavailable",
    "HostState",
    "Leased",
    "NewUrl",
    "Outcome",
    "open_store",
    "store_name",
]

SHARED = "shared"
SHARED_DB = "frontier.sqlite"


def store_name(settings: Settings, job: str) -> str:
    """The frontier a job uses: its own, or the one shared by every job."""
    return SHARED if settings.frontier.scope == "shared" else job


def open_store(settings: Settings, job: str, job_db: Path) -> FrontierStore:
    """The frontier store of ``job`` (whose own database is ``job_db``).

    Raises :class:`FrontierUnavailable` when the store cannot be reached, and ``ValueError``
    when ``backend = "redis"`` has no ``coordination.redis_url``.
    """
    options = settings.frontier
    caps = {"host_cap": settings.crawler.max_pages_per_host,
            "host_concurrency": settings.crawler.concurrency_per_host}
    name = store_name(settings, job)
    if options.backend == "redis":
        from crawler.frontier.redis_store import RedisFrontierStore

        url = settings.coordination.redis_url.get_secret_value()
        if not url:
            raise ValueError('frontier.backend = "redis" needs coordination.redis_url')
        return RedisFrontierStore(url, name, options, **caps)
    from crawler.frontier.sqlite_store import SqliteFrontierStore

    path = Path(settings.data_dir) / SHARED_DB if name == SHARED else job_db
    return SqliteFrontierStore(path, options, **caps)
