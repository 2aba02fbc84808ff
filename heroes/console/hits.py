"""Analysts' decisions on hits in the console: confirm or reject a hit, precision per list.

``POST /hits/{kind}/{id}/decide`` (and ``/api/...``) records that one hit of a document
(``list``, ``value``, ``type`` fields) is ``confirmed`` or a ``false_positive``, with an
optional ``comment``; like every console action it needs the session's CSRF token (checked
by the guard) and is audited (``hit_decision``, with the analyst). Moving a false
positive's value to a negative list (``negative_list``) changes what matches for everyone,
so it needs the admin role. The data functions give the page view each hit's decision and
the hash-list view its precision figures. Reads the data directory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from heroes.console.respond import audit, fail, form_fields, run
from heroes.console.searchreq import RequestError
from heroes.console.security import session_of
from heroes.console.state import READER, SETTINGS, STORE
from index.hashsets.decide import HitRequest, decide_hit, precision_report
from index.hashsets.errors import HashSetError
from index.hashsets.feedback import DecisionStore, decisions_path, parse_verdict
from index.hashsets.lists import ListSettingError
from index.hashsets.membership import MembershipStore, membership_path

FIELDS = ("list", "value", "type", "verdict", "comment", "negative_list")


def _back(kind: str, doc_id: str) -> str:
    return f"/page/{doc_id}" if kind == "page" else f"/doc/{kind}/{doc_id}"


async def decide(request: web.Request) -> web.StreamResponse:
    kind, doc_id = request.match_info["kind"], request.match_info["id"]
    session = session_of(request)

    async def act(_: web.Request) -> dict[str, Any]:
        form = await form_fields(request)
        fields = {name: form.get(name, "") for name in FIELDS}
        for name in ("list", "verdict"):
            if not fields[name]:
                raise RequestError(name, f"{name} is required")
        try:
            parse_verdict(fields["verdict"])
        except HashSetError as exc:
            raise RequestError("verdict", str(exc)) from exc
        if fields["negative_list"] and not session.user.is_admin:
            raise PermissionError("moving a value to a negative list needs the admin role")
        hit = HitRequest(kind, doc_id, fields["list"], fields["verdict"], value=fields["value"],
                         type=fields["type"], comment=fields["comment"],
                         negative_list=fields["negative_list"])
        data_dir = Path(request.app[SETTINGS].data_dir)
        decisions = await asyncio.to_thread(DecisionStore, decisions_path(data_dir))
        members = await asyncio.to_thread(MembershipStore, membership_path(data_dir))
        try:
            decision = await decide_hit(await request.app[READER].get(), decisions, members,
                                        request.app[STORE].append, hit, user=session.user.name)
        except ListSettingError as exc:
            raise RequestError("negative_list", str(exc)) from exc
        except HashSetError as exc:
            raise RequestError("hit", str(exc)) from exc
        finally:
            decisions.close()
            members.close()
        await audit(request, "hit_decision", target=f"{kind}/{doc_id}", list=decision.hit.list,
                    type=decision.hit.type, value=decision.hit.value, verdict=decision.verdict,
                    comment=decision.comment or None,
                    negative_list=decision.negative_list or None)
        return decision.to_dict()

    try:
        result = await run(request, act)
    except PermissionError as exc:
        await audit(request, "hit_decision", target=f"{kind}/{doc_id}", denied=True)
        return fail(request, 403, str(exc))
    if isinstance(result, web.Response):
        return result
    if request.path.startswith("/api/"):
        return web.json_response(result)
    raise web.HTTPSeeOther(_back(kind, doc_id))


async def decisions_of(request: web.Request, kind: str, doc_id: str) -> dict[str, Any]:
    """The current decision of each decided hit of one document, by ``list|type|value``."""
    path = decisions_path(Path(request.app[SETTINGS].data_dir))

    def read() -> dict[str, Any]:
        store = DecisionStore(path)
        try:
            found = store.decisions_of_document(kind, doc_id)
        finally:
            store.close()
        return {f"{d.hit.list}|{d.hit.type}|{d.hit.value}": d.to_dict() for d in found}

    return {"decisions": await asyncio.to_thread(read), "decide_kind": kind, "decide_id": doc_id}


async def precision(request: web.Request) -> dict[str, Any]:
    """Precision from analysts' decisions per list and per list source."""
    report = await asyncio.to_thread(precision_report, Path(request.app[SETTINGS].data_dir))
    return {"precision": report}
