"""``Renderer``: one headless Chromium (Debian's, driven by Playwright) for JavaScript-only pages.

Each page is rendered in its own browser context (no cookies or storage shared between
onions) whose traffic goes through :class:`crawler.render.relay.IsolatingRelay` (one Tor
circuit per onion, names resolved by Tor only, nothing outside ``.onion``). Every image,
media, font and object request is aborted before it is sent (Playwright routes see each
request first; images are also switched off in Blink), so no media byte is fetched; the
rendered DOM goes back as HTML for the ordinary extraction. At most
``render_concurrency`` pages render at once; the browser is restarted after
``RENDER_RESTART_EVERY`` pages to bound its memory. Counts ``heroes/render/pages``,
``heroes/render/aborted``, ``heroes/render/failed``. Off (with the reason logged) when
Chromium or Playwright is missing. Reads ``[crawler]`` render_concurrency,
render_timeout_s, chromium_path, allow_clearnet.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from config.sections.crawler import CrawlerSettings
from crawler.render.relay import IsolatingRelay
from crawler.tor.client import TorEndpoint

log = logging.getLogger(__name__)

BLOCKED_TYPES = frozenset({"image", "media", "font", "object", "imageset", "other"})
BLOCKED_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".bmp", ".ico", ".svg", ".tif",
    ".tiff", ".mp4", ".webm", ".ogg", ".ogv", ".mp3", ".wav", ".flac", ".m4a", ".mov", ".avi",
    ".mkv", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".swf", ".pdf",
)
RENDER_RESTART_EVERY = 200
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
    "--disable-extensions", "--metrics-recording-only", "--no-default-browser-check",
    "--blink-settings=imagesEnabled=false", "--disable-remote-fonts",
    # Never resolve a name locally: every lookup fails except through the SOCKS proxy.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--disable-dev-shm-usage", "--js-flags=--max-old-space-size=256",
]


class RenderUnavailable(Exception):
    """Chromium or Playwright is not there: rendering is off."""


@dataclass(frozen=True)
class Rendered:
    url: str
    html: str
    aborted: int


def blocked(resource_type: str, url: str) -> bool:
    """Whether a request a page makes is refused (media of any kind; pure)."""
    path = urlsplit(url).path.lower()
    return resource_type in BLOCKED_TYPES or path.endswith(BLOCKED_SUFFIXES)


class Renderer:
    def __init__(self, options: CrawlerSettings, tor: TorEndpoint, stats: Any = None):
        self.options = options
        self.tor = tor
        self.stats = stats
        self._sem = asyncio.Semaphore(options.render_concurrency)
        self._lock = asyncio.Lock()
        self._pw: Any = None
        self._browser: Any = None
        self._relay: IsolatingRelay | None = None
        self._pages = 0
        self.aborted: list[str] = []

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._browser is not None and self._pages >= RENDER_RESTART_EVERY:
                await self._browser.close()
                self._browser, self._pages = None, 0
            if self._browser is not None:
                return self._browser
            path = self.options.chromium_path
            if shutil.which(path) is None:
                raise RenderUnavailable(f"crawler.chromium_path {path!r} is not an executable "
                                        "(apt-get install chromium)")
            try:
                from playwright.async_api import async_playwright
            except ImportError as exc:
                raise RenderUnavailable("playwright is not installed") from exc
            if self._relay is None:
                self._relay = IsolatingRelay(self.tor.socks_host, self.tor.socks_port,
                                             allow_clearnet=self.options.allow_clearnet)
                await self._relay.start()
            if self._pw is None:
                self._pw = await async_playwright().start()
            self._browser = await self._pw.chromium.launch(
                executable_path=path, args=CHROMIUM_ARGS, headless=True,
                proxy={"server": f"socks5://127.0.0.1:{self._relay.port}"})
            return self._browser

    async def render(self, url: str, user_agent: str) -> Rendered:
        async with self._sem:
            browser = await self._ensure()
            self._pages += 1
            context = await browser.new_context(user_agent=user_agent, java_script_enabled=True,
                                                service_workers="block", accept_downloads=False)
            aborted = 0

            async def route(r: Any) -> None:
                nonlocal aborted
                if blocked(r.request.resource_type, r.request.url):
                    aborted += 1
                    self.aborted.append(r.request.url)
                    await r.abort("blockedbyclient")
                else:
                    await r.continue_()

            try:
                await context.route("**/*", route)
                page = await context.new_page()
                timeout = self.options.render_timeout_s * 1000
                await page.goto(url, wait_until="load", timeout=timeout)
                try:
                    await page.wait_for_load_state("networkidle", timeout=timeout / 3)
                except Exception:
                    pass  # a page that keeps polling is rendered as it is now
                html = await page.content()
                final = page.url
            finally:
                await context.close()
            self._inc("heroes/render/pages")
            self._inc("heroes/render/aborted", aborted)
            return Rendered(final, html, aborted)

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()
        if self._relay is not None:
            await self._relay.close()
        self._browser = self._pw = self._relay = None
