"""``SocksDownloadHandler``: Scrapy's HTTP/1.1 downloader, with every stream opened through Tor.

Why this design: Scrapy's Twisted HTTP/1.1 client is the fast path (it is what Scrapy uses
behind Privoxy); the time an onion fetch costs goes into opening a Tor stream (a
RELAY_BEGIN round trip over a six-hop rendezvous circuit), not into Python. So the handler
keeps Scrapy's client and connection pool and changes only how a connection is opened: a
SOCKS5 stream (:mod:`crawler.handlers.socks5`) to the Tor client the host is pinned to,
with that host's own SOCKS username (``IsolateSOCKSAuth``: its own circuits). Connections
are pooled per (client, username, host, port) and kept alive, so a site's pages reuse a
handful of streams instead of opening one per page.

Guarantees: the host name goes to Tor unresolved (no local DNS, ever); a response is cut
as soon as it exceeds ``crawler.max_response_bytes`` while it streams in (Scrapy's
DOWNLOAD_MAXSIZE; compressed bodies are inflated with the same cap by
HttpCompressionMiddleware); SOCKS failures become :class:`crawler.errors.SocksError`,
retried by RetryMiddleware; after ``tor.newnym_after_failures`` consecutive circuit
failures on a client it gets NEWNYM. Only http:// is supported (onion services are
authenticated by their address; https onions are rare and need a certificate check we
do not do). Reads ``[crawler]`` connect_timeout_s and ``[tor]`` newnym_after_failures,
control_password, and the Tor endpoints from :mod:`crawler.settings`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _BindAddressAgent,
    _ScrapyAgent,
)
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured, UnsupportedURLSchemeError
from scrapy.http import Response
from scrapy.utils._download_handlers import wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.web.client import URI

from crawler.errors import SocksCircuitError, SocksError
from crawler.handlers.socks5 import Socks5ClientEndpoint
from crawler.settings import heroes_settings, tor_endpoints
from crawler.tor.client import TorEndpoint, newnym
from crawler.tor.health import CircuitHealth
from crawler.tor.isolation import client_index, socks_username

log = logging.getLogger(__name__)


class _SocksAgent(_BindAddressAgent):
    """An Agent whose connections go through one Tor client with one SOCKS username."""

    def __init__(
        self,
        reactor: Any,
        *,
        tor: TorEndpoint,
        username: str,
        connect_timeout: float,
        **kwargs: Any,
    ):
        super().__init__(reactor, **kwargs)
        self._tor = tor
        self._username = username
        self._connect_timeout = connect_timeout

    def request(
        self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None
    ) -> Deferred[Any]:
        parsed = URI.fromBytes(uri)
        if parsed.scheme != b"http":
            raise UnsupportedURLSchemeError(
                f"only http:// is fetched through Tor, not {uri[:80]!r}"
            )
        host = parsed.host.decode("ascii")
        endpoint = Socks5ClientEndpoint(
            self._reactor,
            self._tor.socks_host,
            self._tor.socks_port,
            host,
            parsed.port,
            username=self._username,
            timeout=self._connect_timeout,
        )
        # The pool key keeps connections of different clients/usernames apart.
        key = (b"socks5", self._tor.socks_port, self._username, parsed.host, parsed.port)
        return self._requestWithEndpoint(
            key, endpoint, method, parsed, headers, bodyProducer, parsed.originForm
        )


class _SocksScrapyAgent(_ScrapyAgent):
    def __init__(self, *, route: tuple[TorEndpoint, str], connect_timeout: float, **kwargs: Any):
        super().__init__(**kwargs)
        self._route = route
        self._socks_connect_timeout = connect_timeout

    def _get_agent(self, request: Request, timeout: float) -> _SocksAgent:
        from twisted.internet import reactor

        tor, username = self._route
        return _SocksAgent(
            reactor,
            tor=tor,
            username=username,
            connect_timeout=min(self._socks_connect_timeout, timeout),
            contextFactory=self._contextFactory,
            pool=self._pool,
        )


class SocksDownloadHandler(HTTP11DownloadHandler):
    """Download handler for ``http`` through Tor (see the module docstring)."""

    lazy = False

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        settings = heroes_settings(crawler.settings)
        self._endpoints = tor_endpoints(crawler.settings)
        if not self._endpoints:
            raise NotConfigured("no Tor client configured for the SOCKS download handler")
        self._connect_timeout = settings.crawler.connect_timeout_s
        self._newnym_after = settings.tor.newnym_after_failures
        self._password = settings.tor.control_password.get_secret_value()
        self._health = CircuitHealth(len(self._endpoints), self._newnym_after)
        self._stats = crawler.stats

    def route(self, host: str) -> tuple[int, TorEndpoint, str]:
        index = client_index(host, len(self._endpoints))
        return index, self._endpoints[index], socks_username(host)

    async def download_request(self, request: Request) -> Response:
        host = urlsplit(request.url).hostname or ""
        index, tor, username = self.route(host)
        agent = _SocksScrapyAgent(
            route=(tor, username),
            connect_timeout=self._connect_timeout,
            contextFactory=self._contextFactory,
            pool=self._pool,
            maxsize=request.meta.get("download_maxsize", self._default_maxsize),
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with wrap_twisted_exceptions():
                response = await maybe_deferred_to_future(agent.download_request(request))
        except SocksError as exc:
            self._circuit_failure(index, exc)
            raise
        self._health.success(index)
        return response

    def _circuit_failure(self, index: int, exc: SocksError) -> None:
        if self._stats is not None:
            self._stats.inc_value(f"heroes/socks/error_0x{exc.code:02x}")
        if not isinstance(exc, SocksCircuitError):
            return
        if self._health.failure(index):
            log.info(
                "tor client %d: %d circuit failures in a row, sending NEWNYM",
                index,
                self._newnym_after,
            )
            if self._stats is not None:
                self._stats.inc_value("heroes/tor/newnym")
            # stem is blocking; keep it off the reactor thread.
            threads.deferToThread(newnym, self._endpoints[index], self._password)
