"""Search by identifier, the same on every backend: each spelling finds the same documents.

Subclass :class:`IdentifierSearchContract` per backend and override its ``backend`` fixture
(a backend opened as the writer, empty at the start of each test). The documents hold the
canonical values producers write; every spelling of each example is searched on every
field of its type (``documents.fields.IDENTIFIER_FIELDS``), as a term, as terms and through
the query-string syntax the CLI and console use.
"""

from __future__ import annotations

import html
import re
from typing import Any

from alerting.record import AlertRecord
from alerting.render import render_alert
from alerting.rules import evaluate
from config.sections.alerts import AlertRule
from config.sections.matching import MatchingSettings
from crawler.extract.page import extract_page
from documents import Document, Observation, Page, Torrent, parse_document
from documents.fields import IDENTIFIER_FIELDS
from identifiers import IDENTIFIERS
from index.backends.base import Backend
from index.derive import torrents_from_page
from index.hashsets.membership import Entry, MembershipStore
from index.matching import MatchingStage
from query.model import Query, Search, Term, Terms
from query.querystring import parse_query_string

NOW = "2026-11-29T12:00:00Z"
HOST = IDENTIFIERS.get("onion").spellings[0][1]
OTHER_V1 = "05b307769eaa8094e399ae3d1fee8a9e180b5b3b"
EIP55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
V1 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
V2 = "ab" * 32
BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
BASE58 = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
XMR = IDENTIFIERS.get("xmr").spellings[0][1]
PGP = "C859733601A0FD41F62A1543453FE29670FDA78E"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _doc(kind: str, field: str, canonical: str, n: int) -> Document:
    if kind == "page":
        url = f"http://{HOST}/{field}/{n}"
        if field.startswith("entities."):
            return Page(url=url, fetched_at=NOW, entities={field[9:]: [canonical]})
        if field.startswith("media."):
            media = [{"url": url + ".png", field[6:]: canonical}]
            return Page(url=url, fetched_at=NOW, media=media)
        return Page(url=url, fetched_at=NOW, **{field: canonical})
    if kind == "observation":
        keys = {"infohash": canonical} if field == "infohash" else {
            "infohash": OTHER_V1, "infohash_v2": canonical}
        return Observation(ip="127.0.0.7", port=6000 + n, first_seen=NOW, last_seen=NOW, **keys)
    keys = {"infohash": canonical} if field == "infohash" else {
        "infohash": f"{n:040x}", "infohash_v2": canonical}
    return Torrent(first_seen=NOW, **keys)


def cases() -> list[tuple[str, str, str, list[str]]]:
    """(kind, field, canonical, spellings) for every identifier field and example value."""
    out = []
    for kind, fields in IDENTIFIER_FIELDS.items():
        for field, type_name in fields.items():
            groups: dict[str, list[str]] = {}
            for raw, canon in IDENTIFIERS.get(type_name).spellings:
                groups.setdefault(canon, []).append(raw)
            out += [(kind, field, canon, raws) for canon, raws in groups.items()]
    return out


async def _ids(backend: Backend, kind: str, query: Query) -> set[str]:
    result = await backend.search(Search(kind=kind, query=query, size=100))
    return {h["_id"] for h in result["hits"]["hits"]}


async def _index(backend: Backend, docs: list[Document]) -> None:
    rejected = await backend.write(docs)
    assert not rejected
    await backend.refresh()


def _page_from_html(body: str) -> Page:
    url = f"http://{HOST}/wallets"
    found = extract_page(url, body.encode(), regions=())
    return Page(url=url, fetched_at=NOW, text=found.text, entities=found.entities)


class IdentifierSearchContract:
    async def test_every_spelling_finds_the_same_documents(self, backend: Backend) -> None:
        all_cases = cases()
        docs = [_doc(kind, field, canon, n) for n, (kind, field, canon, _) in enumerate(all_cases)]
        docs = [parse_document(d.source()) for d in docs]
        await _index(backend, docs)
        wrong = []
        for doc, (kind, field, _, spellings) in zip(docs, all_cases, strict=True):
            for raw in spellings:
                for how, query in (
                    ("term", Term(field, raw)),
                    ("terms", Terms(field, (raw, "no-such-value"))),
                    ("query string", parse_query_string(f'{field}:"{raw.strip()}"', kind)),
                ):
                    found = await _ids(backend, kind, query)
                    if found != {doc.id}:
                        wrong.append(f"{kind} {field} {how} {raw!r}: {len(found)} hits")
        assert wrong == []

    async def test_lower_case_eth_finds_the_page_written_in_eip55(self, backend: Backend) -> None:
        page = _page_from_html(f"<p>Ether: {EIP55}</p>")
        await _index(backend, [page])
        for text in (f"eth:{EIP55.lower()}", f"eth:{EIP55}", f"eth:0x{EIP55[2:].upper()}"):
            assert await _ids(backend, "page", parse_query_string(text, "page")) == {page.id}

    async def test_alert_matched_value_pasted_into_search_finds_the_page(
        self, backend: Backend, tmp_path: Any
    ) -> None:
        store = MembershipStore(tmp_path / "hashsets.sqlite")
        try:
            store.upsert([Entry("wallets", "eth", EIP55.lower(), "w", "e1", NOW)])
            page = _page_from_html(f"<p>Ether: {EIP55.lower()}</p>")
            [marked] = await MatchingStage(store, MatchingSettings()).before_write([page])
        finally:
            store.close()
        await _index(backend, [marked])
        firing = evaluate(AlertRule(name="wallets", type="hit"), marked)
        assert firing is not None
        _, text, body = render_alert(_record(firing.facts), "http://127.0.0.1:8080")
        line = next(x for x in text.splitlines() if x.startswith("Matched:"))
        shown = re.search(r"eth (\S+) in", line)
        assert shown is not None and shown.group(1) == EIP55, line
        assert html.escape(EIP55) in body
        query = parse_query_string(f"eth:{shown.group(1)}", "page")
        assert await _ids(backend, "page", query) == {marked.id}

    async def test_a_trailing_wildcard_is_normalised_by_the_field_type(
        self, backend: Backend
    ) -> None:
        bech32, base58 = BECH32, BASE58
        page = Page(
            url=f"http://{HOST}/prefixes", fetched_at=NOW,
            entities={"eth": [EIP55.lower()], "btc": [bech32, base58], "onions": [HOST],
                      "emails": ["trader@example.onion"], "xmr": [XMR],
                      "pgp": [PGP], "infohashes": [V1]},
            media=[{"url": f"http://{HOST}/a.png", "md5": MD5}],
        )
        await _index(backend, [page])
        finds = [
            "eth:0x5AAE*", "eth:0x5aAe*", "btc:BC1QW508*", "btc:bc1QW508*", "btc:1A1zP1*",
            f"onions:{HOST[:12].upper()}*", "emails:TRADER@Example*", f"xmr:{XMR[:8]}*",
            f"entities.pgp:{PGP[:6].lower()}*", f"infohash:{V1[:8].upper()}*",
            f"media.md5:0X{MD5[:6].upper()}*",
        ]
        for text in finds:
            query = parse_query_string(text, "page")
            assert await _ids(backend, "page", query) == {page.id}, text
        # Base58 and Monero addresses are case-sensitive: a part typed in another case is
        # another value.
        for text in ("btc:1a1zp1*", f"xmr:{XMR[:8].swapcase()}*"):
            assert await _ids(backend, "page", parse_query_string(text, "page")) == set(), text

    async def test_a_hybrid_magnet_keeps_both_infohashes(self, backend: Backend) -> None:
        link = f"magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}&dn=archive"
        page = _page_from_html(f'<a href="{html.escape(link)}">archive</a>')
        [torrent] = torrents_from_page(page)
        assert (torrent.infohash, torrent.infohash_v2) == (V1, V2)
        await _index(backend, [page, torrent])
        for raw in (V2, V2.upper(), f"urn:btmh:1220{V2}", V1.upper()):
            assert await _ids(backend, "page", Term("entities.infohashes", raw)) == {page.id}
        assert await _ids(backend, "torrent", Term("infohash_v2", V2.upper())) == {torrent.id}
        assert await _ids(backend, "torrent", Term("infohash", link)) == {torrent.id}


def _record(facts: tuple[tuple[str, str], ...]) -> AlertRecord:
    return AlertRecord(
        id="a1", rule="wallets", rule_type="hit", key="k", severity="high", window_start=0.0,
        created_at=0.0, first_seen=0.0, last_seen=0.0, count=1, status="new",
        summary="flagged wallet", facts=[list(f) for f in facts], matched=[], deliveries=[],
        acknowledged_by="", acknowledged_at=None, comment="", rev=1,
    )
