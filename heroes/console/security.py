"""Request guards of the console: security headers, sessions, CSRF and roles.

Every response carries a strict Content-Security-Policy (scripts and styles only from the
console itself, no images, no framing). Unauthenticated requests get the login page (or
401 for ``/api/``); state-changing requests need the session's CSRF token in the
``X-CSRF-Token`` header or a ``csrf_token`` form field. Reads ``[console]`` ``session_ttl_s``
through the user store.
"""

from __future__ import annotations

import hmac
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from urllib.parse import quote, unquote

from aiohttp import web

from config.sections.console import ConsoleSettings
from heroes.console.users import Session, UserStore

log = logging.getLogger(__name__)

SESSION_COOKIE = "heroes_session"
LOGIN_COOKIE = "heroes_login"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'none'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PUBLIC = ("/login", "/api/login", "/api/openapi.json", "/static/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# A next target still changing after this many decodings is refused rather than decoded on.
_MAX_DECODINGS = 8

USERS = web.AppKey("users", UserStore)
SESSION = web.RequestKey("session", Session)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_api(request: web.Request) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def client_address(request: web.Request) -> str:
    return request.remote or ""


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def error_response(request: web.Request, status: int, message: str) -> web.Response:
    if _is_api(request):
        return web.json_response({"error": {"status": status, "message": message}}, status=status)
    return web.Response(status=status, text=message, content_type="text/plain")


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    except Exception:
        # Never a traceback to the browser: the log has it, the analyst gets words.
        log.exception("unhandled error answering %s %s", request.method, request.path)
        response = error_response(request, 500, "internal error; the console log has the details")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if any(request.path == p or (p.endswith("/") and request.path.startswith(p)) for p in PUBLIC):
        return await handler(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = request.app[USERS].session(token) if token else None
    if session is None:
        if _is_api(request):
            return error_response(request, 401, "log in first (POST /api/login)")
        target = request.path_qs if request.method in SAFE_METHODS else "/"
        raise web.HTTPFound(f"/login?next={quote(target, safe='')}")
    request[SESSION] = session
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            sent = str(form.get("csrf_token", ""))
        if not sent or not hmac.compare_digest(sent, session.csrf):
            return error_response(request, 403, "missing or wrong CSRF token")
    return await handler(request)


def set_session_cookie(
    response: web.StreamResponse, session: Session, settings: ConsoleSettings
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="Strict",
        max_age=settings.session_ttl_s,
        path="/",
        secure=settings.secure_cookies,
    )


def safe_next(target: str) -> str:
    r"""Where a login may send the browser: ``target`` when it is a path on this console,
    else ``/`` (no open redirect).

    Browsers drop tabs and newlines inside a URL and read ``\`` as ``/``, so ``/<tab>/x``
    or ``/\x`` would take them to host ``x``. The target is therefore judged fully decoded
    (``%2F%2F`` is ``//``): no control character anywhere, and a single ``/`` followed by
    anything but ``/`` or ``\``.
    """
    decoded = target
    for _ in range(_MAX_DECODINGS):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        return "/"
    if any(unicodedata.category(char).startswith("C") for char in decoded):
        return "/"
    if decoded == "/" or (decoded.startswith("/") and decoded[1] not in "/\\"):
        return target
    return "/"
