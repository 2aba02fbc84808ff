"""Record an analyst's decision on one hit of an indexed document; console and CLI share it.

The document is read from the backend and the hit must be one of its ``matches`` (a
decision on a hit that does not exist is refused, naming the hits it has). A false
positive may move the document's value to a negative list (``MembershipStore.add_negative``:
the list is created as a negative list when new; a flag list is refused), whose ``hash``
document is spooled like an imported one; for a vPDQ hit (named by the video's SHA-256) it
is the video's vPDQ hash, from the document's media. Auditing who decided is the caller's (the
console's audit log). :func:`precision_report` gives precision per list and per list
source (the console's hash-list view and ``heroes hashes precision``). Reads ``data_dir``
(the decision and membership stores under it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from documents import KINDS, Document, FlaggedHash, iso, utcnow
from identifiers import InvalidIdentifier
from identifiers.vpdq import canonical, frames_of
from index.backends.base import Backend
from index.hashsets.feedback import (
    FALSE_POSITIVE,
    BadDecision,
    Decision,
    DecisionStore,
    Hit,
    decisions_path,
    find_hit,
    parse_verdict,
    precision_by_source,
)
from index.hashsets.importer import hash_document
from index.hashsets.lists import ListInfo
from index.hashsets.membership import Entry, MembershipStore, membership_path


@dataclass(frozen=True)
class HitRequest:
    """What an analyst asks: this document's hit on this list is confirmed or false positive."""

    kind: str
    doc_id: str
    list: str
    verdict: str
    value: str = ""  # needed only when the document has several hits on the list
    type: str = ""
    comment: str = ""
    negative_list: str = ""  # a false positive's value goes there


async def decide_hit(
    backend: Backend,
    decisions: DecisionStore,
    members: MembershipStore,
    append: Callable[[Iterable[Document]], int],
    request: HitRequest,
    *,
    user: str,
) -> Decision:
    """Check the hit exists, move a false positive to its negative list, record the decision.

    Raises :class:`BadDecision` (a user error) for an unknown kind or document, a hit the
    document does not have, a bad verdict, or a negative list asked for a confirmed hit;
    ``ListSettingError`` when the negative list is a flag list.
    """
    verdict = parse_verdict(request.verdict)
    if request.kind not in KINDS:
        raise BadDecision(f"{request.kind!r} is not a document kind")
    if request.negative_list and verdict != FALSE_POSITIVE:
        raise BadDecision("only a false positive can be moved to a negative list")
    found = await backend.get(request.kind, [request.doc_id])
    if request.doc_id not in found:
        raise BadDecision(f"no {request.kind} document with id {request.doc_id!r}")
    hit = find_hit(
        request.kind,
        request.doc_id,
        found[request.doc_id].get("matches") or [],
        list_name=request.list,
        value=request.value,
        type_name=request.type,
    )
    if request.negative_list:
        if request.negative_list == hit.list:
            raise BadDecision(f"the negative list must not be the list that hit ({hit.list!r})")
        entries = await asyncio.to_thread(
            members.add_negative,
            request.negative_list,
            hit.type,
            _negative_value(hit, found[request.doc_id]),
            entry=f"false positive on {hit.list}: {hit.kind}/{hit.doc_id}",
        )
        if entries:
            info = await asyncio.to_thread(members.list_info, request.negative_list)
            await asyncio.to_thread(append, [_hash_document(e, info) for e in entries])
    return await asyncio.to_thread(
        decisions.decide,
        hit,
        verdict,
        user=user,
        comment=request.comment,
        negative_list=request.negative_list,
    )


def _negative_value(hit: Hit, source: dict[str, Any]) -> str:
    """The value that goes on the negative list: the hit's own, or for a video the frames.

    A vPDQ hit names its video by the file's SHA-256 (the frames are too long to index); the
    negative list needs the video's vPDQ hash, which the page's media entry carries.
    """
    if hit.type != "vpdq":
        return hit.value
    for media in source.get("media") or []:
        if hit.value in (media.get("sha256"), media.get("url")) and media.get("vpdq"):
            try:
                return canonical(frames_of(media["vpdq"]))
            except InvalidIdentifier as exc:
                raise BadDecision(f"the video's vPDQ hash cannot be read: {exc}") from exc
    raise BadDecision(f"no video with vPDQ frames named {hit.value!r} in {hit.kind} {hit.doc_id!r}")


def _hash_document(entry: Entry, info: ListInfo) -> FlaggedHash:
    # The importer's form (a vPDQ value indexed by its digest), validated: entries made here
    # did not come through an import.
    doc = hash_document(replace(entry, added_at=entry.added_at or iso(utcnow())), info=info)
    return FlaggedHash.model_validate(doc.model_dump())


def precision_report(data_dir: Path) -> dict[str, Any]:
    """Precision per list and per list source, as ``heroes hashes precision --json`` prints."""
    decisions = DecisionStore(decisions_path(data_dir))
    members = MembershipStore(membership_path(data_dir))
    try:
        by_list = decisions.precision()
        sources = {name: info.source for name, info in members.list_infos().items()}
    finally:
        decisions.close()
        members.close()
    return {
        "lists": [{**p.to_dict(), "source": sources.get(p.name, "")} for p in by_list.values()],
        "sources": [p.to_dict() for p in precision_by_source(by_list, sources).values()],
    }
