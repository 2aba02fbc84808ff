"""The one place where our settings become Scrapy settings.

Reads ``[crawler]`` (concurrency, concurrency_per_host, max_depth, timeouts, size cap,
user_agent) and ``log_level``; the Tor endpoints come from the running
:class:`crawler.tor.client.TorPool`. Scrapy components get our typed settings back through
:func:`heroes_settings` / :func:`tor_endpoints` in their ``from_crawler``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

from config import Settings
from crawler.tor.client import TorEndpoint

HEROES_SETTINGS = "HEROES_SETTINGS"
HEROES_TOR_ENDPOINTS = "HEROES_TOR_ENDPOINTS"
HEROES_JOB = "HEROES_JOB"
HEROES_JOB_DIR = "HEROES_JOB_DIR"

# The only Scrapy extensions a crawl runs. This replaces Scrapy's own list, so an extension a
# new Scrapy turns on by default stays off until it is added here: the telnet console and
# RemoteControl (an HTTP endpoint that runs Python code sent to it, whose token Scrapy writes
# into the user's profile directory) are listeners no crawl may open.
EXTENSIONS = {
    "scrapy.extensions.corestats.CoreStats": 0,  # start/finish times, finish reason
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.memusage.MemoryUsage": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,  # --max-pages
    "scrapy.extensions.logstats.LogStats": 0,
}


def heroes_settings(scrapy_settings: BaseSettings) -> Settings:
    settings = scrapy_settings.get(HEROES_SETTINGS)
    if not isinstance(settings, Settings):
        raise TypeError(
            f"Scrapy setting {HEROES_SETTINGS} is not set: build settings with "
            "crawler.settings.scrapy_settings()"
        )
    return settings


def tor_endpoints(scrapy_settings: BaseSettings) -> list[TorEndpoint]:
    return list(scrapy_settings.get(HEROES_TOR_ENDPOINTS) or [])


def scrapy_settings(
    settings: Settings,
    endpoints: list[TorEndpoint],
    *,
    job: str,
    job_dir: Path,
    max_pages: int | None = None,
    handler: str = "crawler.handlers.socks.SocksDownloadHandler",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    c = settings.crawler
    values: dict[str, Any] = {
        "BOT_NAME": "heroes",
        "LOG_LEVEL": settings.log_level,
        "ROBOTSTXT_OBEY": False,
        "EXTENSIONS_BASE": {},
        "EXTENSIONS": dict(EXTENSIONS),
        # Off twice: should anything put them back in the list, they still do not start.
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "USER_AGENT": c.user_agent,
        "CONCURRENT_REQUESTS": c.concurrency,
        # With politeness on, a new host starts at its circuit's stream budget and delay;
        # PolitenessMiddleware adapts both per host from there.
        "CONCURRENT_REQUESTS_PER_DOMAIN": min(
            c.concurrency_per_host, c.concurrency,
            c.streams_per_circuit if c.politeness else c.concurrency_per_host,
        ),
        "DOWNLOAD_DELAY": c.host_delay_s if c.politeness else 0,
        "DOWNLOAD_TIMEOUT": c.read_timeout_s,
        "DOWNLOAD_MAXSIZE": c.max_response_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
        "DEPTH_LIMIT": c.max_depth,
        # Breadth-first: every service gets its front pages before anyone's deep pages.
        "DEPTH_PRIORITY": 1,
        "RETRY_TIMES": 2,
        "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",
        # Error pages are pages too: their status is recorded, and their links followed.
        "HTTPERROR_ALLOW_ALL": True,
        "REDIRECT_MAX_TIMES": 5,
        # Refresh pages are queue pages: the spider waits them out (crawler.access), where
        # Scrapy would follow them at once and drop the repeat as a duplicate.
        "METAREFRESH_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": True,
        # The frontier also keeps crawler.max_pages_per_host (across processes and runs).
        "SCHEDULER": "crawler.frontier.scheduler.Frontier",
        "SPIDER_MIDDLEWARES": {
            "crawler.middlewares.scope.OnionScopeSpiderMiddleware": 550,
        },
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middlewares.scope.OnionScopeDownloaderMiddleware": 50,
            # Nearer the downloader than RetryMiddleware (550): 429/503 are retried after
            # their wait here, never at once there.
            "crawler.middlewares.politeness.PolitenessMiddleware": 580,
            # Scrapy's cookie middleware fetches the public suffix list from the internet
            # when a site sets a cookie; ours keeps one jar per onion (and imported sessions).
            "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
            "crawler.middlewares.sessions.SessionCookiesMiddleware": 700,
            # Proxies come from our Tor routing, never from http_proxy variables.
            "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
        },
        "ITEM_PIPELINES": {
            "crawler.pipelines.SpoolPipeline": 300,
            # Front-page SimHashes -> mirror groups on the service documents.
            "crawler.mirrors.MirrorPipeline": 310,
        },
        "HEROES_SETTINGS": settings,
        HEROES_TOR_ENDPOINTS: list(endpoints),
        HEROES_JOB: job,
        HEROES_JOB_DIR: str(job_dir),
    }
    if max_pages:
        values["CLOSESPIDER_PAGECOUNT"] = max_pages
    values.update(extra or {})
    return values
