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
classified (:func:`crawler.errors.socks_error`): a circuit failure is retried by
RetryMiddleware, and after ``tor.newnym_after_failures`` consecutive circuit failures on a
client that client gets NEWNYM, at most once per ``tor.newnym_min_interval_s``, logged with
its reason (and the politeness middleware is told, and restarts every host from one
stream); a host-level failure (the onion is down or refuses its address, 0xF0-0xF7) is
never retried here and never causes a NEWNYM: the politeness middleware backs the host off.
Counts ``heroes/socks/error_0xNN``, ``heroes/socks/<kind>``, ``heroes/tor/newnym`` and
``heroes/tor/newnym_held_back``. The connect timeout of a request is its host's
(``request.meta["heroes_connect_timeout"]``, set by the politeness middleware), and the time
a new stream took to open goes back in ``request.meta["heroes_connect_s"]``.

https:// is TLS over the same SOCKS stream, with SNI set to the onion name and no CA check:
the onion address authenticates the service, and a self-signed certificate is the rule
there. The certificate's SHA-256 fingerprint (of its DER bytes),
subject and issuer go into ``request.meta["heroes_tls"]`` for the service document (they
link services run by one operator). Reads ``[crawler]`` connect_timeout_s and ``[tor]``
newnym_after_failures, newnym_min_interval_s, control_password, and the Tor endpoints from
:mod:`crawler.settings`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from time import monotonic
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
from twisted.internet.endpoints import wrapClientTLS
from twisted.web.client import URI

from crawler.access.throttle import NEWNYM_SENT
from crawler.errors import SocksError
from crawler.handlers.socks5 import Socks5ClientEndpoint
from crawler.settings import heroes_settings, tor_endpoints
from crawler.tor.client import TorEndpoint, newnym
from crawler.tor.health import CircuitHealth
from crawler.tor.isolation import client_index, socks_username

log = logging.getLogger(__name__)


def certificate_facts(certificate: Any) -> dict[str, str]:
    """SHA-256 fingerprint (DER), subject, issuer and expiry of a Twisted certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = certificate.original.to_cryptography()
    return {
        "sha256": hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


class _TimedEndpoint:
    """An endpoint that reports how long its connection took to open."""

    def __init__(self, reactor: Any, endpoint: Any, on_open: Callable[[float], None]):
        self._reactor = reactor
        self._endpoint = endpoint
        self._on_open = on_open

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        started = self._reactor.seconds()

        def opened(protocol: Any) -> Any:
            self._on_open(self._reactor.seconds() - started)
            return protocol

        return self._endpoint.connect(protocolFactory).addCallback(opened)


class _SocksAgent(_BindAddressAgent):
    """An Agent whose connections go through one Tor client with one SOCKS username."""

    def __init__(
        self,
        reactor: Any,
        *,
        tor: TorEndpoint,
        username: str,
        connect_timeout: float,
        on_open: Callable[[float], None],
        **kwargs: Any,
    ):
        super().__init__(reactor, **kwargs)
        self._tls_policy = kwargs["contextFactory"]
        self._tor = tor
        self._username = username
        self._connect_timeout = connect_timeout
        self._on_open = on_open

    def request(
        self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None
    ) -> Deferred[Any]:
        parsed = URI.fromBytes(uri)
        if parsed.scheme not in (b"http", b"https"):
            raise UnsupportedURLSchemeError(
                f"only http:// and https:// are fetched through Tor, not {uri[:80]!r}"
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
        endpoint = _TimedEndpoint(self._reactor, endpoint, self._on_open)
        if parsed.scheme == b"https":
            # Scrapy's TLS options: SNI = the onion name, certificate not verified.
            creator = self._tls_policy.creatorForNetloc(parsed.host, parsed.port)
            endpoint = wrapClientTLS(creator, endpoint)
        # The pool key keeps connections of different clients/usernames/schemes apart.
        key = (parsed.scheme, self._tor.socks_port, self._username, parsed.host, parsed.port)
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
        connect_timeout = float(
            request.meta.get("heroes_connect_timeout") or self._socks_connect_timeout
        )

        def on_open(seconds: float) -> None:
            request.meta["heroes_connect_s"] = seconds

        return _SocksAgent(
            reactor,
            tor=tor,
            username=username,
            connect_timeout=min(connect_timeout, timeout),
            on_open=on_open,
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
        self._health = CircuitHealth(
            len(self._endpoints), self._newnym_after, settings.tor.newnym_min_interval_s
        )
        self._stats = crawler.stats

    def route(self, host: str) -> tuple[int, TorEndpoint, str]:
        index = client_index(host, len(self._endpoints))
        return index, self._endpoints[index], socks_username(host)

    async def download_request(self, request: Request) -> Response:
        host = urlsplit(request.url).hostname or ""
        index, tor, username = self.route(host)
        # An imported session travels on its own circuit (its own username).
        username = str(request.meta.get("heroes_socks_username") or username)
        # Set again only if this attempt opens a new stream (a pooled one costs nothing).
        request.meta.pop("heroes_connect_s", None)
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
            self._socks_failure(index, exc)
            raise
        self._health.success(index)
        if response.certificate is not None:
            request.meta["heroes_tls"] = certificate_facts(response.certificate)
        return response

    def _inc(self, key: str) -> None:
        if self._stats is not None:
            self._stats.inc_value(key)

    def _socks_failure(self, index: int, exc: SocksError) -> None:
        self._inc(f"heroes/socks/error_0x{exc.code:02x}")
        self._inc(f"heroes/socks/{exc.kind}")
        if exc.kind != "circuit":
            # The onion is down or refuses its address: that is the service's state, and
            # new circuits on this client would not change it.
            return
        failures = self._health.failures(index) + 1
        if not self._health.failure(index, monotonic()):
            if failures >= self._newnym_after:
                self._inc("heroes/tor/newnym_held_back")
            return
        log.warning(
            "tor client %d: NEWNYM (reason: %d circuit failures in a row, the last %s)",
            index,
            failures,
            exc,
        )
        self._inc("heroes/tor/newnym")
        # stem is blocking; keep it off the reactor thread.
        threads.deferToThread(newnym, self._endpoints[index], self._password)
        # New circuits start slow: the politeness middleware drops every host to one
        # stream and ramps up again, so NEWNYM is never followed by a burst.
        self._crawler.signals.send_catch_log(signal=NEWNYM_SENT, client=index)
