"""Every identifier type through extraction, hash-list import and matching.

Extraction: each spelling written on a page is found in canonical form. Import: a list of
every spelling, through the real importer, holds the canonical values; the invalid
examples are refused as ``FILE:LINE: why``. Matching: a document holding one spelling is
flagged by a list holding another.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.sections.matching import MatchingSettings
from crawler.extract.page import extract_page
from documents import Document, Observation, Page, Torrent
from identifiers import IDENTIFIERS
from identifiers.base import quoted
from index.hashsets.importer import import_file
from index.hashsets.membership import MembershipStore
from index.matching import MatchingStage
from tests.identifiers.examples import ENTITY_KEY, IN_TEXT, LIST_TYPES, case_id

NOW = "2026-11-29T12:00:00Z"
URL = "http://" + IDENTIFIERS.get("onion").spellings[0][1] + "/item"
V1 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
V2 = "ab" * 32
HYBRID = f"magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}&dn=archive"


def _page_html(text: str) -> bytes:
    return f"<html><body><pre>{html.escape(text)}</pre></body></html>".encode()


def _written_in_text(name: str, raw: str) -> bool:
    # Spellings a page can carry in its text (a bare onion label or a fingerprint cannot).
    if name == "onion":
        return ".onion" in raw.lower()
    return name in ("email", "btc", "xmr", "eth", "phone")


EXTRACTED = [
    (t.name, raw, canon) for t in IDENTIFIERS for raw, canon in t.spellings
    if t.name in ENTITY_KEY and _written_in_text(t.name, raw)
]


@pytest.mark.parametrize(("name", "raw", "canonical"), EXTRACTED, ids=case_id)
def test_extraction_finds_each_spelling_in_canonical_form(
    name: str, raw: str, canonical: str
) -> None:
    page = extract_page(URL, _page_html(f"write to {raw.strip()} today"), regions=())
    assert page.entities[ENTITY_KEY[name]] == [canonical]


@pytest.mark.parametrize(
    ("name", "text", "found"), [c for c in IN_TEXT if c[0] in ENTITY_KEY], ids=case_id
)
def test_extraction_keeps_only_valid_values(name: str, text: str, found: tuple[str, ...]) -> None:
    page = extract_page(URL, _page_html(text), regions=())
    assert tuple(page.entities[ENTITY_KEY[name]]) == found


def test_extraction_keeps_both_infohashes_of_a_hybrid_magnet() -> None:
    page = extract_page(URL, f'<a href="{html.escape(HYBRID)}">get</a>'.encode())
    assert page.entities["magnets"] == [HYBRID]
    assert page.entities["infohashes"] == [V1, V2]


class Spooled:
    def __init__(self) -> None:
        self.docs: list[Document] = []

    def __call__(self, docs: list[Document]) -> int:
        self.docs.extend(docs)
        return len(docs)


@pytest.fixture
def members(tmp_path: Path) -> Iterator[MembershipStore]:
    store = MembershipStore(tmp_path / "hashsets.sqlite")
    yield store
    store.close()


@pytest.mark.parametrize("name", LIST_TYPES)
def test_import_stores_every_spelling_canonically_and_names_bad_lines(
    name: str, tmp_path: Path, members: MembershipStore
) -> None:
    kind = IDENTIFIERS.get(name)
    values = [raw.strip() for raw, _ in kind.spellings]
    bad = [(raw, why) for raw, why in kind.invalid if raw.strip()]
    path = tmp_path / f"{name}.txt"
    path.write_text("".join(f"{v}\n" for v in values + [raw for raw, _ in bad]))
    spooled = Spooled()
    report = import_file(path, members, spooled, type_name=name, list_name="lab")
    assert {(d.type, d.value) for d in spooled.docs} == {
        (name, canon) for _, canon in kind.spellings}
    assert len(report.problems) == len(bad)
    for number, ((raw, why), problem) in enumerate(
        zip(bad, report.problems, strict=True), start=len(values) + 1
    ):
        assert problem.startswith(f"{path}:{number}: ")
        assert why in problem and repr(raw)[:20] in problem


def test_xmr_without_its_checksum_is_refused_with_file_and_line(
    tmp_path: Path, members: MembershipStore
) -> None:
    good = IDENTIFIERS.get("xmr").spellings[0][1]
    fake = "4" + "A" * 94
    path = tmp_path / "wallets.txt"
    path.write_text(f"# wallets\n{good}\n{fake}\n")
    report = import_file(path, members, Spooled())
    assert report.problems == [f"{path}:3: monero address checksum does not match: {quoted(fake)}"]
    assert report.imported == 1


def test_a_hybrid_magnet_on_a_list_flags_both_swarms(
    tmp_path: Path, members: MembershipStore
) -> None:
    path = tmp_path / "swarms.txt"
    path.write_text(HYBRID + "\n")
    spooled = Spooled()
    report = import_file(path, members, spooled)
    assert not report.problems
    assert sorted(d.value for d in spooled.docs) == sorted([V1, V2])
    stage = MatchingStage(members, MatchingSettings())
    v2_only = Observation(infohash=V2, ip="127.0.0.9", port=6881, first_seen=NOW, last_seen=NOW)
    v1_torrent = Torrent(infohash=V1, first_seen=NOW)

    async def run() -> list[Document]:
        return await stage.before_write([v2_only, v1_torrent])

    import asyncio

    marked = asyncio.run(run())
    assert [d.flagged for d in marked] == [True, True]


def _page_with(name: str, raw: str) -> Page:
    media_url = URL + ".png"
    if name in ("md5", "sha1", "sha256", "pdq"):
        return Page(url=URL, fetched_at=NOW, media=[{"url": media_url, name: raw}])
    key = {"email": "emails", "infohash": "infohashes"}.get(name, name)
    return Page(url=URL, fetched_at=NOW, entities={key: [raw]})


def _pairs() -> list[tuple[str, str, str, str]]:
    """(type, spelling on the list, spelling in the document, canonical): each spelling of a
    value against another spelling of the same value."""
    out = []
    for name in LIST_TYPES:
        groups: dict[str, list[str]] = {}
        for raw, canon in IDENTIFIERS.get(name).spellings:
            groups.setdefault(canon, []).append(raw.strip())
        for canon, raws in groups.items():
            for i, listed in enumerate(raws):
                out.append((name, listed, raws[(i + 1) % len(raws)], canon))
    return out


@pytest.mark.parametrize(("name", "listed", "in_doc", "canonical"), _pairs(), ids=case_id)
async def test_a_document_is_flagged_by_a_list_holding_another_spelling(
    name: str, listed: str, in_doc: str, canonical: str, tmp_path: Path, members: MembershipStore
) -> None:
    path = tmp_path / "list.txt"
    path.write_text(listed + "\n")
    report = import_file(path, members, Spooled(), type_name=name, list_name="lab")
    assert not report.problems
    [marked] = await MatchingStage(members, MatchingSettings()).before_write(
        [_page_with(name, in_doc)])
    assert marked.flagged
    assert {(m.type, m.value, m.list) for m in marked.matches} == {(name, canonical, "lab")}
