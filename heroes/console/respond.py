"""Shared by every console handler: audit an access, answer in HTML or JSON, errors in words.

A bad parameter is a 400 naming it, a missing document a 404, a backend outage a 503 -
never a traceback. Reads nothing itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from errors import BackendUnavailable, QueryError
from heroes.console import views
from heroes.console.searchreq import RequestError
from heroes.console.security import SESSION, client_address
from heroes.console.state import AUDIT_WRITER

log = logging.getLogger(__name__)

DataFn = Callable[[web.Request], Awaitable[dict[str, Any]]]


async def audit(request: web.Request, action: str, **details: Any) -> None:
    session = request.get(SESSION)
    user = details.pop("user", None) or (session.user.name if session else "")
    await request.app[AUDIT_WRITER].record(
        action, user=user, address=client_address(request), **details
    )


async def form_fields(request: web.Request) -> dict[str, str]:
    """The fields of a form post or of a JSON object body, as stripped text ("" for null)."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise RequestError("body", "not JSON") from exc
        if not isinstance(body, dict):
            raise RequestError("body", "expected a JSON object")
    else:
        body = dict(await request.post())
    return {str(k): "" if v is None else str(v).strip() for k, v in body.items()}


def public(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not k.startswith("_")}


def context(request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
    session = request.get(SESSION)
    return {
        **data,
        "user": session.user if session else None,
        "csrf": session.csrf if session else "",
        "path": request.path,
    }


def fail(request: web.Request, status: int, message: str, param: str = "") -> web.Response:
    if request.path.startswith("/api/"):
        return web.json_response(
            {"error": {"status": status, "message": message, "param": param}}, status=status
        )
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        context(request, {"status": status, "message": message}),
        status=status,
    )


async def run(request: web.Request, fn: DataFn) -> dict[str, Any] | web.Response:
    try:
        return await fn(request)
    except RequestError as exc:
        return fail(request, 400, exc.message, exc.param)
    except QueryError as exc:
        return fail(request, 400, str(exc), "q")
    except views.NotFound as exc:
        return fail(request, 404, str(exc))
    except BackendUnavailable as exc:
        log.warning("backend unavailable: %s", exc)
        return fail(request, 503, f"the index is unavailable: {exc}")
