"""Gather what the index holds about one subject of an export, as :class:`Facts`.

A subject is an alert (its matched documents), a service (its service document and its
newest pages), an infohash (its torrent and the pages that named it) or a cluster (each
member as the three others, and the edges that link them, with their reasons). Torrents'
peers are read only when ``[exchange] include_peers`` allows them to leave; ``max_pages``
and ``max_peers`` bound what one export reads. Raises :class:`SubjectNotFound` for a
subject the index does not know and :class:`BadSubject` for an onion or infohash that does
not parse; what the backend raises passes through (:class:`errors.BackendUnavailable`).
"""

from __future__ import annotations

from typing import Any

from config.sections.exchange import ExchangeSettings
from documents import document_id
from exchange.errors import BadSubject, SubjectNotFound
from exchange.facts import (
    WALLETS,
    Facts,
    Link,
    Subject,
    add_observation,
    add_page,
    add_service,
    add_torrent,
    when,
)
from identifiers import InvalidIdentifier
from identifiers import get as identifier
from index.backends.base import Backend
from query.model import Search, SortField, Term, Terms

SUBJECTS = ("alert", "service", "infohash", "cluster")
# Edge types whose value is itself an identifier an export carries.
EDGE_VALUES = {"email": "email", "phone": "phone", "pgp": "pgp"}
MAX_MERGE_HOPS = 10


def canonical(kind: str, raw: str) -> str:
    """The subject key in its canonical spelling (onion, infohash); BadSubject if it is not one."""
    raw = raw.strip()
    if kind == "service":
        kind_name = "onion"
    elif kind == "infohash":
        kind_name = "infohash"
    else:
        if not raw:
            raise BadSubject(f"{kind} id is empty")
        return raw
    try:
        return identifier(kind_name).parse(raw)
    except InvalidIdentifier as exc:
        if kind == "service" and raw.lower().endswith(".onion") and "/" not in raw:
            # A host the index may hold as it was crawled: the lookup says if it is known.
            return raw.lower()
        raise BadSubject(f"--{kind} {raw!r}: {exc}") from exc


async def collect(
    backend: Backend, kind: str, key: str, settings: ExchangeSettings
) -> Facts:
    """The facts of subject ``kind`` (one of :data:`SUBJECTS`) ``key``."""
    if kind not in SUBJECTS:
        raise BadSubject(f"unknown subject {kind!r}; expected one of {', '.join(SUBJECTS)}")
    key = canonical(kind, key)
    reader = _Reader(backend, settings)
    if kind == "service":
        facts = Facts(Subject("service", key))
        if not await reader.service(facts, key):
            raise SubjectNotFound(f"no service or page for onion {key!r}")
    elif kind == "infohash":
        facts = Facts(Subject("infohash", key))
        if not await reader.infohash(facts, key):
            raise SubjectNotFound(f"nothing known about infohash {key!r}")
    elif kind == "alert":
        facts = await reader.alert(key)
    else:
        facts = await reader.cluster(key)
    await reader.peers(facts)
    return facts


def _sources(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": h["_id"], **h["_source"]} for h in result["hits"]["hits"]]


class _Reader:
    def __init__(self, backend: Backend, settings: ExchangeSettings):
        self.backend = backend
        self.settings = settings

    async def _one(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        found = await self.backend.get(kind, [doc_id])
        return found.get(doc_id)

    async def _pages(self, query: Term) -> list[dict[str, Any]]:
        result = await self.backend.search(Search(
            kind="page", query=query, size=self.settings.max_pages,
            sort=(SortField("fetched_at", "desc"),)))
        return _sources(result)

    async def service(self, facts: Facts, host: str) -> bool:
        doc = await self._one("service", document_id("service", [host]))
        if doc is not None:
            add_service(facts, doc)
            if facts.subject == Subject("service", host):  # the export's own subject
                facts.subject = Subject("service", host, str(doc.get("title") or ""))
        pages = await self._pages(Term("host", host))
        for page in pages:
            add_page(facts, page)
        await self.torrents(facts)
        return doc is not None or bool(pages)

    async def infohash(self, facts: Facts, value: str) -> bool:
        doc = await self._one("torrent", document_id("torrent", [value]))
        if doc is not None:
            add_torrent(facts, doc)
            if facts.subject == Subject("infohash", value):
                facts.subject = Subject("infohash", value, str(doc.get("name") or ""))
        pages = await self._pages(Term("entities.infohashes", value))
        for page in pages:
            add_page(facts, page)
        if doc is None and not pages:
            return False
        facts.torrent(value)
        await self.torrents(facts)
        return True

    async def torrents(self, facts: Facts) -> None:
        """The torrent documents of every infohash named so far (name, size, magnet)."""
        wanted = [h for h, t in facts.torrents.items() if not t.name]
        ids = {document_id("torrent", [h]): h for h in wanted}
        if ids:
            for doc in (await self.backend.get("torrent", list(ids))).values():
                add_torrent(facts, doc)

    async def peers(self, facts: Facts) -> None:
        if not self.settings.include_peers or not facts.torrents:
            return
        for infohash in sorted(facts.torrents):
            result = await self.backend.search(Search(
                kind="observation", query=Term("infohash", infohash),
                size=self.settings.max_peers, sort=(SortField("last_seen", "desc"),)))
            for observation in _sources(result):
                add_observation(facts, observation)

    async def alert(self, alert_id: str) -> Facts:
        doc = await self._one("alert", alert_id)
        if doc is None:
            raise SubjectNotFound(f"no alert with id {alert_id!r}")
        facts = Facts(Subject("alert", alert_id, f"{doc.get('rule', '')}: "
                              f"{doc.get('summary', '')}".strip(": ")))
        facts.seen.add(when(doc.get("first_seen")), when(doc.get("last_seen")))
        by_kind: dict[str, list[str]] = {}
        for ref in doc.get("matched") or []:
            by_kind.setdefault(str(ref.get("kind")), []).append(str(ref.get("id")))
        for kind, ids in sorted(by_kind.items()):
            if kind not in ("page", "service", "torrent", "observation"):
                continue  # hash documents: the list's own values, nothing seen
            for matched in (await self.backend.get(kind, ids)).values():
                if kind == "page":
                    add_page(facts, matched)
                elif kind == "service":
                    add_service(facts, matched)
                elif kind == "torrent":
                    add_torrent(facts, matched)
                elif self.settings.include_peers:
                    add_observation(facts, matched)
                else:
                    facts.torrent(str(matched["infohash"]), when(matched.get("first_seen")))
        await self.torrents(facts)
        return facts

    async def cluster(self, cluster_id: str) -> Facts:
        doc = await self._cluster(cluster_id)
        facts = Facts(Subject("cluster", str(doc.get("cluster_id") or cluster_id),
                              f"{doc.get('size', 0)} members"))
        facts.seen.add(when(doc.get("updated_at")))
        for member in doc.get("members") or []:
            kind, key = str(member.get("kind")), str(member.get("key"))
            if kind == "service":
                await self.service(facts, key)
            elif kind == "torrent":
                await self.infohash(facts, key)
            elif kind == "page":
                await self._page_member(facts, key)
        for edge in doc.get("edges") or []:
            _add_edge(facts, edge)
        return facts

    async def _cluster(self, cluster_id: str) -> dict[str, Any]:
        wanted = cluster_id
        for _ in range(MAX_MERGE_HOPS):
            doc = await self._one("cluster", document_id("cluster", [wanted]))
            if doc is None:
                raise SubjectNotFound(f"no cluster with id {cluster_id!r}")
            survivor = str(doc.get("merged_into") or "")
            if not survivor or survivor == wanted:
                return doc
            wanted = survivor  # merged: the surviving cluster holds the members now
        raise SubjectNotFound(f"cluster {cluster_id!r}: more than {MAX_MERGE_HOPS} merges to "
                              "follow")

    async def _page_member(self, facts: Facts, key: str) -> None:
        page = await self._one("page", key)
        if page is not None:
            add_page(facts, page)
            return
        for page in await self._pages(Terms("url", (key,))):  # a member named by its URL
            add_page(facts, page)


def _add_edge(facts: Facts, edge: dict[str, Any]) -> None:
    etype, value = str(edge.get("type") or ""), str(edge.get("value") or "")
    a, b = str(edge.get("a") or ""), str(edge.get("b") or "")
    times = [when(edge.get(f"{side}_{end}_seen")) for side in "ab" for end in ("first", "last")]
    kind = EDGE_VALUES.get(etype) or (_wallet_kind(value) if etype == "wallet" else "")
    if kind:
        facts.value(kind, value, *times)
    why = (f"{a} and {b} both carried {etype} {value!r}: {a} from "
           f"{edge.get('a_first_seen')} to {edge.get('a_last_seen')} (record "
           f"{edge.get('a_record') or '?'}), {b} from {edge.get('b_first_seen')} to "
           f"{edge.get('b_last_seen')} (record {edge.get('b_record') or '?'})")
    weight = edge.get("weight")
    facts.links.append(Link(a, b, etype, value,
                            float(weight) if isinstance(weight, int | float) else 0.0, why))


def _wallet_kind(value: str) -> str:
    for kind in WALLETS:
        try:
            identifier(kind).parse(value)
        except InvalidIdentifier:
            continue
        return kind
    return ""
