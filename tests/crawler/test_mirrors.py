"""Mirrors: SimHash of front pages, mirror groups (stable id: the lowest onion), the service
documents that carry them, and the pipeline that groups a crawl's front pages with the
services already indexed."""

from __future__ import annotations

import asyncio
import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.crawler import Crawler
from scrapy.settings import Settings as ScrapySettings
from scrapy.spiders import Spider
from scrapy.statscollectors import MemoryStatsCollector

from config import load_settings
from crawler.access.classify import classify
from crawler.extract.similarity import hamming, shingles, simhash, simhash_bands, simhash_hex
from crawler.items import PageItem
from crawler.mirrors import MirrorPipeline, is_group_primary, mirror_groups, regroup
from crawler.settings import scrapy_settings
from documents.page import Page
from documents.service import Service
from identifiers.onion import onion_address
from index.store import Store
from query.model import Search

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _onion(name: str) -> str:
    return onion_address(hashlib.sha256(name.encode()).digest())


def _market(address: str, users: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    goods = ["garden tools", "tea", "candles", "maps", "notebooks", "lamps", "soap", "spices"]
    lines = [f"Welcome to the Lantern Market at {address}",
             f"{users} users online, 2026-11-0{seed % 9}"]
    for i in range(40):
        item = rng.choice(goods)
        lines.append(f"Listing {i}: fine {item} from vendor {rng.choice('abcdefgh')}, "
                     f"rated {rng.randint(1, 5)} stars, ships {rng.choice(['daily', 'weekly'])}")
    lines.append("Read the rules and the escrow guide before your first order.")
    return "\n".join(lines)


def _forum(address: str) -> str:
    topics = ["bread baking", "bicycle repair", "chess openings", "bird watching", "pottery"]
    return "\n".join([f"Quiet Harbor Forum ({address})", "Board index"] + [
        f"{t.title()}: {n} threads, last post by member{n} about {t} tips and questions"
        for n, t in enumerate(topics * 4)])


def test_simhash_ignores_addresses_dates_and_counters() -> None:
    a = simhash(_market(_onion("a"), 1234))
    b = simhash(_market(_onion("b"), 87))
    other = simhash(_forum(_onion("a")))
    assert a is not None and b is not None and other is not None
    assert a == b  # a mirror: the same page under another address
    assert hamming(a, other) > 10
    assert 0 <= a < 2**64 and simhash_hex(a) == f"{a:016x}"
    assert simhash("") is None and simhash("2026 12345 \u00b7 42") is None


def test_a_small_edit_moves_a_few_bits() -> None:
    text = _market(_onion("a"), 10)
    edited = text.replace("Read the rules", "Please read the rules")
    a, b = simhash(text), simhash(edited)
    assert a is not None and b is not None and hamming(a, b) <= 3


def test_shingles_are_word_trigrams() -> None:
    assert shingles("The old Mill, the old   river") == [
        "the old mill", "old mill the", "mill the old", "the old river"]
    assert shingles("two words") == ["two words"] and shingles("") == []


def test_bands_are_the_four_quarters() -> None:
    value = 0x1234_5678_9ABC_DEF0
    assert simhash_bands(value) == ["0:def0", "1:9abc", "2:5678", "3:1234"]
    # Within 3 bits, two hashes share a quarter (how the index finds the candidates).
    flipped = value ^ (1 << 3) ^ (1 << 20) ^ (1 << 40)
    assert set(simhash_bands(value)) & set(simhash_bands(flipped)) == {"3:1234"}


def test_groups_link_mirrors_and_name_them_by_their_lowest_onion() -> None:
    h = 0xF0F0_F0F0_0F0F_0F0F
    hashes = {"d.onion": h, "b.onion": h ^ 0b1, "c.onion": h ^ 0b111, "z.onion": ~h & (2**64 - 1)}
    assert mirror_groups(hashes, 3) == {"b.onion": "b.onion", "c.onion": "b.onion",
                                        "d.onion": "b.onion"}
    assert mirror_groups(hashes, 0) == {}
    assert mirror_groups({**hashes, "a.onion": h}, 0) == {"a.onion": "a.onion",
                                                         "d.onion": "a.onion"}
    # Mirrors of mirrors join one group even when the ends are further apart.
    chain = {"x.onion": h, "y.onion": h ^ 0b111, "w.onion": h ^ 0b111111}
    assert set(mirror_groups(chain, 3).values()) == {"w.onion"}
    with pytest.raises(ValueError, match="between 0 and 3"):
        mirror_groups(hashes, 4)


def _service(host: str, value: int | None, group: str = "", at: datetime = T0) -> Service:
    return Service(host=host, first_seen=at - timedelta(days=3), last_seen=at, up=True,
                   page_count=12, title="Lantern", simhash=simhash_hex(value) if value else "",
                   simhash_bands=simhash_bands(value) if value else [], mirror_group=group,
                   mirror_at=at if value else None)


def test_the_primary_is_the_group_id_or_a_service_without_mirrors() -> None:
    assert is_group_primary(_service("a.onion", 1, "a.onion"))
    assert not is_group_primary(_service("b.onion", 1, "a.onion"))
    assert is_group_primary(_service("c.onion", None))


def test_mirror_fields_merge_by_their_own_time_in_either_order() -> None:
    crawl = _service("m.onion", None, at=T0 + timedelta(days=1))  # the crawl's own document
    mirror = Service(host="m.onion", first_seen=T0, last_seen=T0, up=True,
                     simhash="00000000000000ff", simhash_bands=["0:00ff"], mirror_group="a.onion",
                     mirror_at=T0 + timedelta(days=1))
    for merged in (crawl.merged_with(mirror), mirror.merged_with(crawl)):
        assert (merged.mirror_group, merged.simhash) == ("a.onion", "00000000000000ff")
        assert (merged.page_count, merged.first_seen) == (12, T0 - timedelta(days=2))
        assert merged.last_seen == T0 + timedelta(days=1) and merged.up
    newer = mirror.model_copy(update={"mirror_group": "", "mirror_at": T0 + timedelta(days=2)})
    assert newer.merged_with(mirror).mirror_group == ""
    assert mirror.merged_with(newer).mirror_group == ""


def test_regroup_updates_known_members_when_a_lower_mirror_joins() -> None:
    h = 0x0123_4567_89AB_CDEF
    known = [_service("m.onion", h, "m.onion"), _service("n.onion", h ^ 1, "m.onion"),
             _service("q.onion", h ^ (2**64 - 1), "")]
    from crawler.mirrors import FrontPage

    fronts = {"a.onion": FrontPage("a.onion", h ^ 2, T0, "Lantern")}
    docs = {d.host: d for d in regroup(fronts, known, 3, T0 + timedelta(hours=1))}
    assert set(docs) == {"a.onion", "m.onion", "n.onion"}  # q did not change
    assert {d.mirror_group for d in docs.values()} == {"a.onion"}
    assert docs["a.onion"].simhash == simhash_hex(h ^ 2) and docs["a.onion"].up
    assert docs["m.onion"].page_count == 12  # a known one is carried over whole


# --- the pipeline on a real store ---------------------------------------------------------


def _item(url: str, text: str, at: datetime, chain: tuple[str, ...] = ()) -> PageItem:
    body = f"<html><body><p>{text}</p></body></html>".encode()
    page = Page(url=url, fetched_at=at, status=200, sha256=hashlib.sha256(body).hexdigest(),
                size=len(body), job="t", title="Lantern Market", text=text)
    return PageItem(page, (*chain, url), access=classify(200, {}, body, url))


async def _drain(store: Store) -> None:
    async with store.writer() as drainer:
        await drainer.drain_all()


def _services(store: Store) -> dict[str, dict]:
    async def fetch() -> dict[str, dict]:
        result = await store.search(Search(kind="service", size=100))
        return {h["_source"]["host"]: h["_source"] for h in result["hits"]["hits"]}

    return asyncio.run(fetch())


def test_the_pipeline_groups_a_crawl_with_indexed_services(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path)})
    old, new1, new2, other = sorted(_onion(n) for n in ("old", "new1", "new2", "other"))
    store = Store(settings)
    known = simhash(_market(old, 5))
    store.append([_service(old, known, "", at=T0)])
    asyncio.run(_drain(store))

    crawler = Crawler(Spider, ScrapySettings(
        scrapy_settings(settings, [], job="t", job_dir=tmp_path / "job")))
    crawler.stats = MemoryStatsCollector(crawler)
    pipeline = MirrorPipeline(crawler)
    now = datetime.now(UTC)
    for host, text in ((new1, _market(new1, 40)), (other, _forum(other))):
        pipeline.process_item(_item(f"http://{host}/", text, now))
    # A front page that redirected is one; a deep page is not.
    pipeline.process_item(_item(f"http://{new2}/index.php", _market(new2, 3), now,
                                chain=(f"http://{new2}/",)))
    pipeline.process_item(_item(f"http://{new1}/rules", "Rules only", now))
    assert set(pipeline.fronts) == {new1, new2, other}
    asyncio.run(pipeline.close_spider())
    asyncio.run(_drain(store))

    services = _services(store)
    assert {h: s.get("mirror_group", "") for h, s in services.items()} == {
        old: old, new1: old, new2: old, other: "",
    }
    assert services[new1]["simhash"] == simhash_hex(known)
    assert services[old]["page_count"] == 12  # the indexed service keeps what it had
    store.close()


def test_the_service_view_shows_the_mirror_group(tmp_path: Path) -> None:
    from tests.console.conftest import Client, console_settings, ingest, make_store, serve

    settings = console_settings(tmp_path)
    store = make_store(settings)
    first, second, alone = sorted(_onion(n) for n in ("v1", "v2", "v3"))
    h = simhash(_market(first, 1))
    asyncio.run(ingest(store, [_service(first, h, first), _service(second, h, first),
                               _service(alone, h ^ (2**64 - 1))]))
    server = serve(settings, store)
    console = next(server)
    try:
        analyst = Client(console.url).login("alice")
        view = analyst.get(f"/api/service/{second}").json()
        assert (view["mirror_group"], view["mirrors"]) == (first, [first])
        html = analyst.get(f"/service/{second}").text
        assert f'<a href="/service/{first}">{first}</a>' in html and "Mirrors" in html
        lone = analyst.get(f"/service/{alone}").text
        assert "mirror group" in lone and "Mirrors</h2>" not in lone
    finally:
        next(server, None)
