"""Retro-hunt over an embedded index: a list or a rule imported after the pages were indexed.

Pages are indexed first (the production drain, with its matching and alert stages), the
list or rule comes after; the hunt must flag exactly the pages that carry its values and
raise one ``retro`` alert each, and nothing more when run again.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from alerting.db import AlertDB, alert_db_path
from alerting.state import AlertState
from config import Settings
from config.sections.alerts import AlertRule, AlertSettings
from config.sections.hunt import HuntSettings
from documents import Page, Torrent, iso
from heroes.cli import main
from index.backends.es_alerts import cluster_alerts_for
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.hunt.alerts import RetroAlerter
from index.hunt.checkpoint import Checkpoints, checkpoint_path
from index.hunt.errors import HuntError
from index.hunt.runner import HuntReport, KindReport, run_hunt
from index.hunt.targets import RETRO_RULE, ListTarget, RuleTarget
from index.store import Store
from index.writer_lock import WriterLock
from query.model import Exists, Search, Term

SEEN = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
ADDED = "2026-11-30T00:00:00Z"


def rand_hex(rng: random.Random, nbytes: int) -> str:
    return rng.randbytes(nbytes).hex()


def near(hex_value: str, flips: int, rng: random.Random) -> str:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(hex_value), dtype=np.uint8))
    bits[rng.sample(range(256), flips)] ^= 1
    return np.packbits(bits).tobytes().hex()


class World:
    """Pages indexed before any list: some carry listed md5s, some near copies of PDQs."""

    def __init__(self, tmp: Path, rules: tuple[AlertRule, ...] = (), n_pages: int = 40,
                 base: Settings | None = None):
        rng = random.Random(16)
        self.settings = (base or Settings(data_dir=tmp / "data")).model_copy(update={
            "alerts": AlertSettings(rules=list(rules)), "hunt": HuntSettings(batch_size=7)})
        self.md5s = [rand_hex(rng, 16) for _ in range(3)]
        self.pdqs = [rand_hex(rng, 32) for _ in range(2)]
        self.pages: list[Page] = []
        self.expected: set[str] = set()
        for i in range(n_pages):
            media = [{"url": f"http://shop{i}.onion/a.png", "md5": rand_hex(rng, 16),
                      "pdq": rand_hex(rng, 32), "pdq_quality": 90}]
            text = "garden chairs and tables"
            if i in (3, 17, 31):
                media.append({"url": f"http://shop{i}.onion/b.png", "md5": self.md5s[i % 3]})
            if i in (8, 25):
                media[0]["pdq"] = near(self.pdqs[i % 2], 9, rng)
            if i == 12:  # far from every listed hash: no hit
                media[0]["pdq"] = near(self.pdqs[0], 90, rng)
            if i in (5, 6):
                text = "a Garden Lamp for the patio"
            page = Page(url=f"http://shop{i}.onion/item/{i}", fetched_at=SEEN + timedelta(
                minutes=i), title=f"item {i}", text=text, media=media)
            self.pages.append(page)
            if i in (3, 17, 31, 8, 25):
                self.expected.add(page.id)
        self.torrent = Torrent(infohash="ab" * 20, name="Garden lamp manual",
                               first_seen=SEEN)

    async def index(self) -> None:
        store = Store(self.settings)
        store.append([*self.pages, self.torrent])
        async with store.writer(with_stages=True) as drainer:
            await drainer.drain_all()
        store.close()

    def flag(self, *entries: Entry) -> None:
        members = MembershipStore(membership_path(self.settings.data_dir))
        members.upsert(entries)
        members.close()

    def flag_hashes(self) -> None:
        self.flag(*(Entry("retro-list", "md5", v, "img", f"e{i}", ADDED)
                    for i, v in enumerate(self.md5s)),
                  *(Entry("retro-list", "pdq", v, "img", f"p{i}", ADDED)
                    for i, v in enumerate(self.pdqs)))

    async def hunt(self, *, list_name: str = "", rule: str = "",
                   stop_after: int = 0) -> HuntReport:
        settings = self.settings
        members = MembershipStore(membership_path(settings.data_dir))
        checkpoints = Checkpoints(checkpoint_path(settings.data_dir))
        store = Store(settings)
        alerter = RetroAlerter(settings.alerts, alert_db_path(settings.data_dir), store.append,
                               cluster=cluster_alerts_for(settings))
        try:
            target = (ListTarget(members, list_name, settings.matching, settings.alerts)
                      if list_name else RuleTarget(rule, settings.alerts))
            stop = asyncio.Event()

            def progress(kr: KindReport, rate: float) -> None:
                if stop_after and kr.scanned >= stop_after:
                    stop.set()

            async with store.reader() as backend:
                return await run_hunt(target, backend, checkpoints, alerter, store.append,
                                      settings.hunt, progress=progress, stop=stop)
        finally:
            alerter.close()
            store.close()
            checkpoints.close()
            members.close()

    async def drain(self) -> None:
        store = Store(self.settings)
        async with store.writer(with_stages=True) as drainer:
            await drainer.drain_all()
        store.close()

    async def flagged_pages(self) -> set[str]:
        store = Store(self.settings)
        found = await store.search(Search("page", Term("flagged", True), size=1000))
        store.close()
        return {h["_id"] for h in found["hits"]["hits"]}

    def alerts(self) -> list:
        db = AlertDB(alert_db_path(self.settings.data_dir))
        try:
            return AlertState(db).list(limit=1000)
        finally:
            db.close()


async def cli(args: list[str]):
    """The CLI in a thread: it runs its own event loop."""
    return await asyncio.to_thread(CliRunner().invoke, main, args)


HIT = AlertRule(name="hits", type="hit", recipients=["unit@lab.localhost"], key=["url"],
                kinds=["page"])


async def test_list_hunt_flags_exactly_the_pages_and_alerts_each_once(tmp_path: Path) -> None:
    world = World(tmp_path, rules=(HIT,))
    await world.index()
    assert not await world.flagged_pages()
    world.flag_hashes()
    report = await world.hunt(list_name="retro-list")
    assert report.hits == 5 and report.kinds["page"].done
    assert report.scanned == len(world.pages)
    alerts = world.alerts()
    assert len(alerts) == 5, [a.summary for a in alerts]
    assert {a.rule_type for a in alerts} == {"retro"} and {a.rule for a in alerts} == {"hits"}
    assert {a.matched[0]["id"] for a in alerts} == world.expected
    by_page = {p.id: p for p in world.pages}
    for a in alerts:
        page = by_page[a.matched[0]["id"]]
        facts = dict(map(tuple, a.facts))
        assert facts["Originally seen"] == iso(page.fetched_at)
        assert a.first_seen == page.fetched_at.timestamp()
        assert a.summary.startswith("retro-hunt of list retro-list")
    pdq_facts = [f for a in alerts for f in a.facts if "pdq" in f[1] and "distance" in f[1]]
    assert len(pdq_facts) == 2
    # The drain writes the marked pages: flagged in the index, and no second alert.
    await world.drain()
    assert await world.flagged_pages() == world.expected
    assert len(world.alerts()) == 5
    # Run again: the hunt is done; restarted, every hit is already carried.
    again = await world.hunt(list_name="retro-list")
    assert again.already_done and len(world.alerts()) == 5
    out = await cli(["--data-dir", str(world.settings.data_dir), "hunt", "--list",
                               "retro-list", "--restart", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["hits"] == 0 and len(world.alerts()) == 5


async def test_updated_list_is_hunted_again_for_its_new_values(tmp_path: Path) -> None:
    world = World(tmp_path)
    await world.index()
    world.flag(Entry("retro-list", "md5", world.md5s[0], "", "", ADDED))
    first = await world.hunt(list_name="retro-list")
    assert first.hits == 1
    world.flag_hashes()
    second = await world.hunt(list_name="retro-list")
    assert not second.already_done and second.hits == 5
    alerts = world.alerts()
    # No hit rule configured: the built-in rule keeps one alert per document, no email.
    assert {a.rule for a in alerts} == {RETRO_RULE} and len(alerts) == 5
    assert all(a.deliveries == [] for a in alerts)


async def test_keyword_list_over_page_text_and_torrent_names(tmp_path: Path) -> None:
    world = World(tmp_path, n_pages=10)
    await world.index()
    world.flag(Entry("words", "keyword", "garden lamp", "", "k1", ADDED))
    report = await world.hunt(list_name="words")
    assert report.kinds["page"].hits == 2 and report.kinds["torrent"].hits == 1
    await world.drain()
    assert await world.flagged_pages() == {world.pages[5].id, world.pages[6].id}
    store = Store(world.settings)
    found = await store.search(Search("torrent", Term("flagged", True)))
    store.close()
    [hit] = found["hits"]["hits"]
    assert hit["_source"]["matches"][0]["field"] == "name"


async def test_rule_back_fill_keyword_and_frequency(tmp_path: Path) -> None:
    lamp = AlertRule(name="lamps", type="keyword", query="text:lamp", kinds=["page"],
                     key=["url"])
    busy = AlertRule(name="busy", type="frequency", query="text:garden", kinds=["page"],
                     threshold=3, window_s=600, key=["kind"])
    world = World(tmp_path, n_pages=10)
    await world.index()  # no rules yet: nothing alerted at ingest
    world.settings = world.settings.model_copy(
        update={"alerts": AlertSettings(rules=[lamp, busy])})
    report = await world.hunt(rule="lamps")
    assert report.hits == 2
    freq = await world.hunt(rule="busy")
    # Pages a minute apart, 3 needed within 10 min: the third page fires; the rest join.
    assert freq.hits == 10
    alerts = world.alerts()
    assert sorted(a.rule for a in alerts) == ["busy", "lamps", "lamps"]
    [busy_alert] = [a for a in alerts if a.rule == "busy"]
    assert busy_alert.first_seen == world.pages[2].fetched_at.timestamp()
    assert all(a.rule_type == "retro" for a in alerts)
    await world.hunt(rule="lamps")
    assert len(world.alerts()) == 3


async def test_unknown_list_and_rule_are_named(tmp_path: Path) -> None:
    world = World(tmp_path, n_pages=2)
    world.flag(Entry("real", "md5", world.md5s[0], "", "", ADDED))
    with pytest.raises(HuntError, match=r"unknown list 'nope'; known lists: real"):
        await world.hunt(list_name="nope")
    with pytest.raises(HuntError, match=r"unknown alert rule 'nope'"):
        await world.hunt(rule="nope")
    out = await cli(["--data-dir", str(world.settings.data_dir), "hunt", "--list",
                               "nope"])
    assert out.exit_code == 2 and "unknown list 'nope'" in out.stderr
    assert "Traceback" not in out.output
    out = await cli(["--data-dir", str(world.settings.data_dir), "hunt"])
    assert out.exit_code == 2 and "--list NAME or --rule NAME" in out.stderr
    lock = WriterLock(world.settings.data_dir / "hunt.lock")
    assert lock.try_acquire()
    try:
        out = await cli(["--data-dir", str(world.settings.data_dir), "hunt", "--list", "real"])
    finally:
        lock.release()
    assert out.exit_code == 2 and "another heroes hunt is running" in out.stderr


async def test_import_offers_the_hunt_and_hunts_despite_bad_lines(tmp_path: Path) -> None:
    world = World(tmp_path, n_pages=20)
    await world.index()
    listing = tmp_path / "fresh.txt"
    listing.write_text(f"{world.md5s[0]}\nnot-a-hash\n{world.md5s[2]}\n")
    data = str(world.settings.data_dir)
    out = await cli(["--data-dir", data, "hashes", "import", str(listing),
                               "--type", "md5"])
    assert out.exit_code == 1, out.output
    assert f"{listing}:2:" in out.stderr and "'not-a-hash'" in out.stderr
    assert "heroes hunt --list fresh" in out.stdout
    assert not world.alerts()
    out = await cli(["--data-dir", data, "hashes", "import", str(listing),
                               "--type", "md5", "--hunt"])
    assert out.exit_code == 1, out.output
    assert "list fresh: 2 hits, 2 alerts" in out.stdout
    assert "3 values looked up" not in out.stdout and "2 values looked up" in out.stdout
    assert len(world.alerts()) == 2


def test_console_upload_offers_the_exact_command(tmp_path: Path) -> None:
    from heroes.console.upload import import_upload

    report = import_upload(tmp_path / "data", lambda docs: len(list(docs)),
                           filename="new list.txt", content=b"0123456789abcdef0123456789abcdef\n",
                           type_name="md5")
    assert report["list"] == "new_list" and report["hunt"] == "heroes hunt --list new_list"


async def test_infohash_list_over_torrents_observations_and_magnets(tmp_path: Path) -> None:
    from documents import Observation

    world = World(tmp_path, n_pages=3)
    ih = world.torrent.infohash
    peer = Observation(infohash=ih, ip="127.0.0.9", port=51413, first_seen=SEEN,
                       last_seen=SEEN, level=1, sources=["tracker"])
    other = Observation(infohash="cd" * 20, ip="127.0.0.9", port=51413, first_seen=SEEN,
                        last_seen=SEEN, level=1, sources=["tracker"])
    magnet = Page(url="http://forum1.onion/t/1", fetched_at=SEEN,
                  entities={"magnets": [f"magnet:?xt=urn:btih:{ih.upper()}&dn=x"]})
    store = Store(world.settings)
    store.append([peer, other, magnet])
    store.close()
    await world.index()
    world.flag(Entry("swarms", "infohash", ih, "", "s1", ADDED))
    report = await world.hunt(list_name="swarms")
    assert tuple(report.kinds) == ("page", "torrent", "observation")
    assert {k: r.hits for k, r in report.kinds.items()} == {
        "page": 1, "torrent": 1, "observation": 1}
    alerts = world.alerts()
    assert sorted(a.matched[0]["kind"] for a in alerts) == ["observation", "page", "torrent"]


async def test_paused_list_is_refused_and_resuming_offers_the_hunt(tmp_path: Path) -> None:
    world = World(tmp_path, n_pages=2)
    world.flag(Entry("later", "md5", world.md5s[0], "", "", ADDED))
    data = str(world.settings.data_dir)
    out = await cli(["--data-dir", data, "hashes", "set", "later", "--state", "paused"])
    assert out.exit_code == 0 and "heroes hunt" not in out.stdout
    out = await cli(["--data-dir", data, "hunt", "--list", "later"])
    assert out.exit_code == 2 and "list 'later' is paused" in out.stderr
    out = await cli(["--data-dir", data, "hashes", "set", "later", "--state", "active"])
    assert out.exit_code == 0 and "heroes hunt --list later" in out.stdout


async def test_stopped_hunt_goes_on_from_its_checkpoint(tmp_path: Path) -> None:
    world = World(tmp_path, rules=(HIT,))
    await world.index()
    world.flag_hashes()
    first = await world.hunt(list_name="retro-list", stop_after=14)
    assert first.scanned == 14 and not first.kinds["page"].done
    second = await world.hunt(list_name="retro-list")
    assert second.resumed and second.kinds["page"].done
    assert second.scanned == len(world.pages) and second.hits == 5
    assert {a.matched[0]["id"] for a in world.alerts()} == world.expected


async def test_media_hash_list_is_looked_up_chunk_by_chunk_and_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index.hunt import targets

    monkeypatch.setattr(targets, "LOOKUP_CHUNK", 1)
    world = World(tmp_path, rules=(HIT,))
    await world.index()
    world.flag(*(Entry("exact", "md5", v, "", "", ADDED) for v in world.md5s),
               Entry("exact", "sha256", "ef" * 32, "", "", ADDED))
    first = await world.hunt(list_name="exact", stop_after=2)
    assert first.kinds["page"].unit == "values" and first.scanned == 2
    assert not first.kinds["page"].done
    second = await world.hunt(list_name="exact")
    assert second.resumed and second.kinds["page"].done and second.scanned == 4
    pages = {p.id for p in world.pages if any(m.md5 in world.md5s for m in p.media)}
    assert second.hits == len(pages) == 3
    assert {a.matched[0]["id"] for a in world.alerts()} == pages
    await world.drain()
    assert await world.flagged_pages() == pages


async def test_new_term_rule_back_fill_alerts_each_term_at_its_first_sighting(
        tmp_path: Path) -> None:
    world = World(tmp_path, n_pages=6)
    twin = Page(url="http://shop1.onion/again", fetched_at=SEEN + timedelta(days=3),
                title="again", text="garden chairs")
    store = Store(world.settings)
    store.append([twin])
    store.close()
    await world.index()
    hosts = AlertRule(name="hosts", type="new_term", field="host", kinds=["page"])
    world.settings = world.settings.model_copy(update={"alerts": AlertSettings(rules=[hosts])})
    report = await world.hunt(rule="hosts")
    assert report.hits == 7  # every page fires; the engine alerts on never-seen terms only
    alerts = world.alerts()
    assert len(alerts) == 6 and {a.rule_type for a in alerts} == {"retro"}
    [shop1] = [a for a in alerts if a.key == "shop1.onion"]
    assert shop1.first_seen == world.pages[1].fetched_at.timestamp()
    await world.hunt(rule="hosts")
    assert len(world.alerts()) == 6


def test_rule_kinds_follow_the_rule() -> None:
    hosts = AlertRule(name="hosts", type="new_term", field="host")
    target = RuleTarget("hosts", AlertSettings(rules=[hosts]))
    assert "page" in target.kinds and "torrent" not in target.kinds
    assert target.query("page") == Exists("host")
    hits = AlertRule(name="hits", type="hit")
    assert RuleTarget("hits", AlertSettings(rules=[hits])).query("torrent") == Term(
        "flagged", True)
