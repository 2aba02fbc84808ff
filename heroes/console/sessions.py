"""The console's sessions page: services waiting for an analyst, and the sessions analysts hold.

``/sessions`` (HTML, and JSON at ``/api/sessions``) lists every service whose access state
needs a person (captcha, login, js-required; queues and rate limits are waited out by the
crawler) with what it needs, and the stored sessions (never their cookie values).
``POST /sessions/import`` (multipart: ``onion``, ``file``) imports a cookie file made in Tor
Browser, supplied by the logged-in analyst; ``POST /sessions/{id}/remove`` removes one.
Both are audited. Reads the data directory and ``[crawler]`` sessions_key(_file).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from crawler.access.classify import CAPTCHA, JS_REQUIRED, LOGIN, NEEDS
from crawler.sessions.cookies import CookieFileError, parse_cookie_file
from crawler.sessions.store import SessionKeyError, SessionStore
from heroes.console.respond import audit, fail, run
from heroes.console.searchreq import RequestError
from heroes.console.security import session_of
from heroes.console.state import READER, SETTINGS
from query.model import Search, SortField, Terms

WAITING = (CAPTCHA, LOGIN, JS_REQUIRED)
MAX_COOKIE_FILE = 1_000_000


def _store(request: web.Request) -> SessionStore | None:
    try:
        return SessionStore(request.app[SETTINGS])
    except SessionKeyError:
        return None


async def sessions(request: web.Request) -> dict[str, Any]:
    backend = await request.app[READER].get()
    result = await backend.search(Search(kind="service", query=Terms("access", WAITING),
                                         size=500, sort=(SortField("last_seen", "desc"),)))
    waiting = [{"host": h["_source"]["host"], "access": h["_source"].get("access", ""),
                "why": h["_source"].get("access_why", ""),
                "needs": NEEDS.get(h["_source"].get("access", ""), ""),
                "last_content": h["_source"].get("last_content"),
                "last_seen": h["_source"].get("last_seen")}
               for h in result["hits"]["hits"]]
    store = await asyncio.to_thread(_store, request)
    if store is None:
        return {"waiting": waiting, "sessions": [], "store": "no sessions key configured"}
    try:
        held = [s.summary() for s in await asyncio.to_thread(store.all)]
    except SessionKeyError as exc:
        return {"waiting": waiting, "sessions": [], "store": str(exc)}
    finally:
        store.close()
    return {"waiting": waiting, "sessions": held, "store": "ok"}


async def import_session(request: web.Request) -> web.StreamResponse:
    user = session_of(request).user

    async def act(_: web.Request) -> dict[str, Any]:
        if request.content_type != "multipart/form-data":
            raise RequestError("file", "upload the cookie file as multipart/form-data")
        form = await request.post()
        upload = form.get("file")
        onion = str(form.get("onion", "")).strip().lower()
        if not isinstance(upload, web.FileField):
            raise RequestError("file", "no file was uploaded")
        content = await asyncio.to_thread(upload.file.read, MAX_COOKIE_FILE + 1)
        if len(content) > MAX_COOKIE_FILE:
            raise RequestError("file", f"a cookie file is at most {MAX_COOKIE_FILE} bytes")
        try:
            cookies, problems = parse_cookie_file(content.decode("utf-8", "replace"), onion)
        except CookieFileError as exc:
            raise RequestError("file", f"{upload.filename}: {exc}") from exc
        store = await asyncio.to_thread(_store, request)
        if store is None:
            raise RequestError("file", "sessions are off: no sessions key is configured")
        try:
            made = await asyncio.to_thread(store.add, onion, cookies, analyst=user.name)
        finally:
            store.close()
        await audit(request, "session_import", target=onion, session=made.id,
                    cookies=len(cookies))
        return {"session": made.summary(), "problems": [str(p) for p in problems]}

    result = await run(request, act)
    if isinstance(result, web.Response):
        return result
    status = 400 if result["problems"] else 200
    if request.path.startswith("/api/"):
        return web.json_response(result, status=status)
    raise web.HTTPSeeOther("/sessions")


async def remove_session(request: web.Request) -> web.StreamResponse:
    session_id = request.match_info["id"]
    store = await asyncio.to_thread(_store, request)
    if store is None:
        return fail(request, 400, "sessions are off: no sessions key is configured")
    try:
        removed = await asyncio.to_thread(store.remove, session_id)
    finally:
        store.close()
    if not removed:
        return fail(request, 404, f"no session {session_id!r}")
    await audit(request, "session_remove", target=session_id)
    if request.path.startswith("/api/"):
        return web.json_response({"removed": removed})
    raise web.HTTPSeeOther("/sessions")
