"""Hash-list hygiene in the console: list settings and counts, and the flood quarantine.

:func:`lists_state` gives the hash-list view each list's settings (kind, source, trust,
distance, state) and its counts (hits suppressed by negative lists, hits suppressing,
hits held, values in quarantine), and the quarantined values. ``POST
/hashes/quarantine/release`` and ``/hashes/quarantine/remove`` (and ``/api/...``; fields
``type`` and ``value``) are for admins, need the session's CSRF token (checked by the
guard) and are audited (``quarantine_release``, ``quarantine_remove``): release spools the
held documents to be matched again; remove drops the value from every list holding it
(matching stops at once) and deletes its ``hash`` documents when the index writer is free.
Reads the data directory.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from errors import BackendUnavailable, WriterLocked
from heroes.console.respond import audit, fail, form_fields, run
from heroes.console.searchreq import RequestError
from heroes.console.security import session_of
from heroes.console.state import SETTINGS, STORE
from index.hashsets.importer import removed_documents
from index.hashsets.lists import SETTING_NAMES
from index.hashsets.membership import MembershipStore, membership_path

ACTIONS = {"release": "quarantine_release", "remove": "quarantine_remove"}


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _read(data_dir: Path) -> dict[str, Any]:
    members = MembershipStore(membership_path(data_dir))
    try:
        stats = members.stats()
        names = sorted({*members.list_infos(), *stats, *(row.list for row in members.lists())})
        infos = {name: members.list_info(name) for name in names}
        held = members.quarantine.entries()
        lists_of = {(q.type, q.value): sorted({e.list for e in members.lookup(q.type, q.value)})
                    for q in held}
    finally:
        members.close()
    settings = {}
    for name in names:
        counts = asdict(stats[name]) if name in stats else {}
        settings[name] = {
            **{k: getattr(infos[name], k) for k in SETTING_NAMES},
            **{k: counts.get(k, 0) for k in ("suppressed", "suppressing", "held", "quarantined")},
        }
    quarantine = [
        {"type": q.type, "value": q.value, "lists": lists_of[(q.type, q.value)],
         "since": _when(q.since), "held": q.held, "alerted": q.alerted}
        for q in held
    ]
    return {"list_settings": settings, "quarantine": quarantine}


async def lists_state(request: web.Request) -> dict[str, Any]:
    """Each list's settings and counts, and the values in quarantine."""
    return await asyncio.to_thread(_read, Path(request.app[SETTINGS].data_dir))


async def _fields(request: web.Request) -> dict[str, str]:
    form = await form_fields(request)
    fields = {name: form.get(name, "") for name in ("type", "value")}
    for name, text in fields.items():
        if not text:
            raise RequestError(name, f"{name} is required")
    return fields


def _quarantined(members: MembershipStore, type_name: str, value: str) -> bool:
    return any(q.type == type_name and q.value == value for q in members.quarantine.entries())


async def _delete_hash_documents(request: web.Request, ids: list[str]) -> str:
    try:
        async with request.app[STORE].writer() as drainer:
            deleted = await drainer.backend.delete("hash", ids) if ids else 0
    except (WriterLocked, BackendUnavailable) as exc:
        return f"its hash documents stay searchable until its lists are imported again ({exc})"
    return f"{deleted} hash documents deleted from the index"


async def quarantine_action(request: web.Request) -> web.StreamResponse:
    """Release or remove one quarantined value (admins)."""
    verb = request.match_info["action"]
    action = ACTIONS.get(verb)
    if action is None:
        raise web.HTTPNotFound()
    if not session_of(request).user.is_admin:
        await audit(request, action, target=request.path, denied=True)
        return fail(request, 403, f"to {verb} a quarantined value needs the admin role")

    async def act(_: web.Request) -> dict[str, Any]:
        fields = await _fields(request)
        type_name, value = fields["type"], fields["value"]
        data_dir = Path(request.app[SETTINGS].data_dir)
        members = await asyncio.to_thread(MembershipStore, membership_path(data_dir))
        try:
            if not await asyncio.to_thread(_quarantined, members, type_name, value):
                raise RequestError("value", f"no {type_name} value {value!r} in quarantine")
            if verb == "release":
                docs = await asyncio.to_thread(members.quarantine.release, type_name, value)
                await asyncio.to_thread(request.app[STORE].append, docs)
                result = {"released": len(docs),
                          "message": f"{len(docs)} held documents spooled to be matched again"}
            else:
                gone = await asyncio.to_thread(members.quarantine.remove, type_name, value)
                lists = sorted({e.list for e in gone})
                ids = [doc_id for _, doc_id in removed_documents(gone)]
                result = {"removed_from": lists,
                          "message": f"removed from {', '.join(lists) or 'no list'}; "
                                     + await _delete_hash_documents(request, ids)}
        finally:
            members.close()
        await audit(request, action, target=f"{type_name}:{value}", **{
            k: v for k, v in result.items() if k != "message"})
        return {"type": type_name, "value": value, **result}

    result = await run(request, act)
    if isinstance(result, web.Response):
        return result
    if request.path.startswith("/api/"):
        return web.json_response(result)
    raise web.HTTPSeeOther("/hashes")
