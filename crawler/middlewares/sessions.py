"""``SessionCookiesMiddleware``: cookies per onion, and the sessions analysts imported.

It replaces Scrapy's CookiesMiddleware, whose public-suffix check (tldextract) fetches the
suffix list from the internet the first time a site sets a cookie: a request outside Tor.
Onion cookies need no suffix list: a cookie lives in the jar of the host that set it.

A host with an active session (:class:`crawler.sessions.store.SessionStore`) gets that
session's cookies in its jar and the session's own SOCKS username (its own Tor circuit,
``request.meta["heroes_socks_username"]``, read by the download handler). Each crawl
records the first use of each session in the audit log with the analyst who supplied it.
When a page fetched with a session is a login wall, the session is marked ``expired`` (the
service then shows ``login``, and an ``access_changed`` rule asks for a fresh one).
Without a sessions key, only the per-host jars work. Reads ``data_dir`` and ``[crawler]``
sessions_key, sessions_key_file through the store.
"""

from __future__ import annotations

import http.cookiejar
import logging
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.http.cookies import CookieJar
from scrapy.utils.httpobj import urlparse_cached

from crawler.access.classify import LOGIN, classify
from crawler.sessions.audit import record_use
from crawler.sessions.store import Session, SessionKeyError, SessionStore
from crawler.settings import heroes_settings

log = logging.getLogger(__name__)
SESSION_KEY = "heroes_session"
USERNAME_KEY = "heroes_socks_username"


def _jar_cookie(name: str, value: str, host: str, path: str, expires: float | None,
                secure: bool) -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(
        0, name, value, None, False, host, False, False, path or "/", True, secure,
        int(expires) if expires else None, expires is None, None, None, {})


class SessionCookiesMiddleware:
    def __init__(self, crawler: Crawler):
        self.settings = heroes_settings(crawler.settings)
        self.crawler = crawler
        self.jars: dict[str, CookieJar] = {}
        self.sessions: dict[str, Session | None] = {}
        self.used: set[str] = set()
        self.store: SessionStore | None = None
        try:
            self.store = SessionStore(self.settings)
        except SessionKeyError as exc:
            log.info("sessions off: %s", exc)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    def _session(self, host: str) -> Session | None:
        if self.store is None:
            return None
        if host not in self.sessions:
            self.sessions[host] = self.store.active_for(host)
            session = self.sessions[host]
            if session is not None:
                jar = self.jars.setdefault(f"s:{session.id}", CookieJar())
                for c in session.cookies:
                    jar.jar.set_cookie(_jar_cookie(c.name, c.value, host, c.path, c.expires,
                                                   c.secure))
        return self.sessions[host]

    def process_request(self, request: Request, spider: Any = None) -> None:
        host = (urlparse_cached(request).hostname or "").lower()
        session = self._session(host)
        key = f"s:{session.id}" if session is not None else f"h:{host}"
        if session is not None:
            request.meta[SESSION_KEY] = session.id
            request.meta[USERNAME_KEY] = session.socks_username
            if session.id not in self.used:
                self.used.add(session.id)
                record_use(self.settings, session, job=str(self.crawler.settings.get(
                    "HEROES_JOB", "")))
        jar = self.jars.setdefault(key, CookieJar())
        request.headers.pop(b"Cookie", None)
        jar.add_cookie_header(request)
        return None

    def process_response(self, request: Request, response: Response,
                         spider: Any = None) -> Response:
        host = (urlparse_cached(request).hostname or "").lower()
        session_id = request.meta.get(SESSION_KEY)
        key = f"s:{session_id}" if session_id else f"h:{host}"
        self.jars.setdefault(key, CookieJar()).extract_cookies(response, request)
        if session_id:
            access = classify(response.status, response.headers, response.body, response.url)
            if access.state == LOGIN:
                self.session_failed(host, access.why)
        return response

    def session_failed(self, host: str, why: str) -> None:
        """A page fetched with the host's session was a login wall: the session is over."""
        session = self.sessions.get(host)
        if session is None or self.store is None:
            return
        log.warning("session %s for %s no longer works (%s): import a fresh one",
                    session.id, host, why)
        self.store.mark(session.id, "expired")
        self.sessions[host] = None
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("heroes/sessions/expired")

    def close(self, **_: Any) -> None:
        if self.store is not None:
            self.store.close()
        self.store = None
