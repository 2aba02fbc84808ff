"""On an ad board each advert is a cluster member of its own: adverts posted by the same
people are grouped by what they carry, an advert joins the shop it points to, and the
board's own favicon, trackers and template link no advert to another."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from analysis.state import AnalysisDB, analysis_db_path
from analysis.timeline import timeline
from config import Settings
from config.errors import ConfigError
from documents import Document, Page
from documents.page import Entities
from documents.pivots import Pivots
from identifiers.onion import onion_address
from tests.analysis.lab_index import T0, analyse, index, live_clusters

BOARD = onion_address(bytes([7]) * 32)
SHOP = onion_address(bytes([8]) * 32)
PHONE = "+4915112345678"
EMAIL = "seller.b@example.org"
BOARD_PIVOTS = Pivots(analytics=["UA-4242-1"], dom=["0123456789abcdef"],
                      headers=["fedcba9876543210"])
WORDS = ("lamp kettle garden chair table window carpet shelf mirror bottle candle basket "
         "blanket clock drawer pillow teapot vase bucket ladder").split()


def text(seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(80))


def advert(n: int, **entities: list[str]) -> Page:
    return Page(url=f"http://{BOARD}/ads/{n}.html", fetched_at=T0 + timedelta(minutes=n),
                title=f"Advert {n}", text=text(n), entities=Entities(**entities),
                pivots=BOARD_PIVOTS)


def world() -> list[Document]:
    shop = Page(url=f"http://{SHOP}/", fetched_at=T0, title="Shop", text=text(100),
                entities=Entities(emails=[EMAIL]), pivots=Pivots(analytics=["UA-9999-1"]))
    return [advert(1, phones=[PHONE]), advert(2, phones=[PHONE]), advert(3, emails=[EMAIL]),
            advert(4), advert(5), shop]


def groups(found: list[object]) -> set[frozenset[tuple[str, str]]]:
    return {frozenset((m.kind, m.key) for m in c.members)  # type: ignore[attr-defined]
            for c in found if c.members}  # type: ignore[attr-defined]


def ad(n: int) -> tuple[str, str]:
    return ("page", f"http://{BOARD}/ads/{n}.html")


async def test_adverts_on_a_board_are_members_linked_by_what_they_carry(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(analysis={"ad_boards": [BOARD.upper()],
                                       "common_min_services": 100_000})
    assert settings.analysis.ad_boards == [BOARD]
    await index(settings, world())
    await analyse(settings)
    found = await live_clusters(settings)
    assert groups(found) == {frozenset({ad(1), ad(2)}),
                             frozenset({ad(3), ("service", SHOP)})}
    edges = {(e.type, e.value) for c in found for e in c.edges}
    assert edges == {("phone", PHONE), ("email", EMAIL)}


async def test_a_phone_on_a_board_has_the_board_on_its_timeline(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(analysis={"ad_boards": [BOARD], "common_min_services": 100_000})
    await index(settings, world())
    await analyse(settings)
    db = AnalysisDB(analysis_db_path(settings.data_dir))
    try:
        (span,) = timeline(db, PHONE).spans
        (board, shop) = sorted(timeline(db, EMAIL).spans, key=lambda s: s.service != BOARD)
    finally:
        db.close()
    assert (span.service, span.pages) == (BOARD, 2)
    assert span.urls == (f"http://{BOARD}/ads/1.html", f"http://{BOARD}/ads/2.html")
    assert (board.service, board.urls, shop.service) == (
        BOARD, (f"http://{BOARD}/ads/3.html",), SHOP)


async def test_without_the_board_setting_the_board_is_one_service(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(analysis={"common_min_services": 100_000})
    await index(settings, world())
    await analyse(settings)
    # The phone shared by two adverts is inside one member: only the e-mail links.
    assert groups(await live_clusters(settings)) == {
        frozenset({("service", BOARD), ("service", SHOP)})}


def test_a_board_that_is_not_an_onion_is_named(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match=r"analysis.ad_boards: .*item 1: 'board.example' is "
                                          "not an onion address"):
        make_settings(analysis={"ad_boards": [BOARD, "board.example"]})
