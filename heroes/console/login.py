"""Logging in and out: the form (with its own double-submit token), the JSON login of API
clients, throttling and the session cookie. Reads ``[console] session_ttl_s``.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from heroes.console.respond import audit, fail
from heroes.console.security import (
    LOGIN_COOKIE,
    SESSION,
    SESSION_COOKIE,
    USERS,
    client_address,
    safe_next,
    set_session_cookie,
)
from heroes.console.state import SETTINGS
from heroes.console.users import LockedOut


async def login_form(request: web.Request, *, status: int = 200, message: str = "") -> web.Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html",
        request,
        {
            "login_token": token,
            "next": safe_next(request.query.get("next", "/search")),
            "message": message,
            "user": None,
            "csrf": "",
            "path": request.path,
        },
        status=status,
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", path="/login")
    return response


async def _authenticate(request: web.Request, name: str, password: str) -> Any:
    users = request.app[USERS]
    try:
        user = await asyncio.to_thread(users.authenticate, name, password, client_address(request))
    except LockedOut as exc:
        await audit(request, "login_failed", user=name, reason="locked out")
        return exc
    if user is None:
        await audit(request, "login_failed", user=name, reason="wrong name or password")
        return None
    session = users.open_session(user, client_address(request))
    request[SESSION] = session
    await audit(request, "login")
    return session


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, str(form.get("login_token", ""))):
        return await login_form(request, status=403, message="the login form expired; try again")
    result = await _authenticate(request, str(form.get("name", "")), str(form.get("password", "")))
    if isinstance(result, LockedOut):
        return await login_form(request, status=429, message=str(result))
    if result is None:
        return await login_form(request, status=401, message="wrong name or password")
    response = web.HTTPSeeOther(safe_next(str(form.get("next", "/search"))))
    set_session_cookie(response, result, request.app[SETTINGS].console)
    response.del_cookie(LOGIN_COOKIE, path="/login")
    raise response


async def api_login(request: web.Request) -> web.StreamResponse:
    # JSON only: a cross-site form cannot send it, which is what protects this login.
    if request.content_type != "application/json":
        return fail(request, 415, 'send {"name": ..., "password": ...} as application/json')
    try:
        body = await request.json()
    except ValueError:
        return fail(request, 400, "the body is not JSON", "body")
    if not isinstance(body, dict):
        return fail(request, 400, "the body is not a JSON object", "body")
    result = await _authenticate(request, str(body.get("name", "")), str(body.get("password", "")))
    if isinstance(result, LockedOut):
        return fail(request, 429, str(result))
    if result is None:
        return fail(request, 401, "wrong name or password")
    response = web.json_response(
        {"user": result.user.name, "role": result.user.role, "csrf_token": result.csrf}
    )
    set_session_cookie(response, result, request.app[SETTINGS].console)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    request.app[USERS].close_session(request.cookies.get(SESSION_COOKIE, ""))
    await audit(request, "logout")
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
