"""Hash lists that stay clean: list settings, negative lists, flood quarantine, turned images."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from config import Settings
from config.sections.alerts import AlertRule, AlertSettings
from config.sections.matching import MatchingSettings
from documents import Page
from heroes.cli import main
from index.hashsets.errors import HashSetError
from index.hashsets.importer import import_file
from index.hashsets.lists import ListInfo, ListSettingError, parse_setting
from index.hashsets.membership import SCHEMA_VERSION, Entry, MembershipStore, membership_path
from index.matching import MatchingStage
from index.matching_alerts import RULE_NAME
from index.matching_fields import PDQ_TRANSFORMS
from tests.index.test_alerts_memory_backend import MemoryStore
from tests.index.test_matching import flip_bits

MD5 = "0123456789abcdef0123456789abcdef"
LOGO_MD5 = "aa" * 16
PDQ = "f0" * 32
NOW = "2026-11-29T12:00:00Z"

# The store as the version before list settings made it (schema version 0).
OLD_SCHEMA = """
CREATE TABLE entries (
    list TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL, category TEXT NOT NULL,
    entry TEXT NOT NULL, added_at TEXT NOT NULL, key INTEGER NOT NULL,
    PRIMARY KEY (type, value, list)
) WITHOUT ROWID;
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('generation', 3);
"""


def page(n: int = 1, **kw: object) -> Page:
    return Page(url=f"http://marketabc.onion/item/{n}", fetched_at=NOW, **kw)


def media(**kw: object) -> dict[str, object]:
    return {"url": "http://marketabc.onion/a.png", **kw}


@pytest.fixture
def members(tmp_path: Path) -> MembershipStore:
    store = MembershipStore(tmp_path / "hashsets.sqlite")
    yield store
    store.close()


def stage_of(members: MembershipStore, **settings: object) -> MatchingStage:
    stage = MatchingStage(members, MatchingSettings(**settings), clock=lambda: 1_000_000.0)
    stage.index.load()
    return stage


# -- list settings and the store's schema ------------------------------------------------


def test_a_store_of_the_old_schema_opens_keeps_its_entries_and_migrates(tmp_path: Path) -> None:
    from index.hashsets.membership import prefilter_key

    path = tmp_path / "hashsets.sqlite"
    old = sqlite3.connect(path)
    old.executescript(OLD_SCHEMA)
    old.execute(
        "INSERT INTO entries VALUES ('lab', 'md5', ?, 'cat', 'e1', ?, ?)",
        (MD5, NOW, prefilter_key("md5", MD5)),
    )
    old.commit()
    old.close()
    members = MembershipStore(path)
    try:
        assert [e.entry for e in members.lookup("md5", MD5)] == ["e1"]
        assert members.list_info("lab") == ListInfo("lab")  # an active flag list, as it acted
        assert list(members.list_infos()) == ["lab"]
        assert members._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        marked = stage_of(members).mark(page(media=[media(md5=MD5)]))
        assert marked.flagged
    finally:
        members.close()
    again = MembershipStore(path)  # a second open has nothing to migrate
    assert again.lookup("md5", MD5) and again.generation() == 3
    again.close()


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hashsets.sqlite"
    MembershipStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(HashSetError, match="newer than this version"):
        MembershipStore(path)


def test_list_settings_persist_across_a_restart(tmp_path: Path) -> None:
    members = MembershipStore(tmp_path / "h.sqlite")
    members.set_list("lab", source="Unit 7", trust="high", distance=12, state="paused")
    members.upsert([Entry("lab", "md5", MD5, "", "", NOW)])
    members.close()
    members = MembershipStore(tmp_path / "h.sqlite")
    assert members.list_info("lab") == ListInfo("lab", "flag", "Unit 7", "high", 12, "paused")
    members.close()


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("distance", "far", "distance 'far' is not a whole number"),
        ("distance", "300", "distance '300' is outside 0 to 256"),
        ("state", "sleeping", "unknown state 'sleeping'; expected one of active, paused"),
        ("trust", "total", "unknown trust 'total'"),
        ("colour", "red", "unknown list setting 'colour'"),
    ],
)
def test_a_bad_setting_is_named_and_quoted(name: str, raw: str, message: str) -> None:
    with pytest.raises(ListSettingError, match=message):
        parse_setting(name, raw)


def test_a_list_file_carries_its_settings_and_a_bad_one_names_its_line(
    tmp_path: Path, members: MembershipStore
) -> None:
    path = tmp_path / "vendor.txt"
    path.write_text(
        "#! source: Partner unit\n#! distance: 40x\n#! state: asleep\n#! kind: negative\n"
        f"# a comment\n{MD5}\n"
    )
    report = import_file(path, members, len, type_name="md5")
    assert report.imported == 1 and report.bad == 2
    assert report.problems == [
        f"{path}:2: distance '40x' is not a whole number of bits (0 to 256, or 'default')",
        f"{path}:3: unknown state 'asleep'; expected one of active, paused",
    ]
    assert members.list_info("vendor") == ListInfo("vendor", "negative", "Partner unit")
    csv_path = tmp_path / "partner.csv"
    csv_path.write_text("#! distance: 8\nmd5,category\n" + MD5 + ",c\n")
    report = import_file(csv_path, members, len, list_settings={"trust": "low"})
    assert report.imported == 1 and not report.problems
    assert members.list_info("partner") == ListInfo("partner", trust="low", distance=8)


def test_cli_import_options_set_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "lab.txt"
    path.write_text(MD5 + "\n")
    base = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    done = runner.invoke(
        main, [*base, "hashes", "import", str(path), "--type", "md5", "--source", "Unit 7",
               "--trust", "medium", "--distance", "20"]
    )
    assert done.exit_code == 0, done.output
    bad = runner.invoke(main, [*base, "hashes", "import", str(path), "--state", "off"])
    assert bad.exit_code == 2 and "--state: unknown state 'off'" in bad.stderr
    bad = runner.invoke(main, [*base, "hashes", "set", "lab", "--distance", "-1"])
    assert bad.exit_code == 2 and "--distance: distance '-1' is outside 0 to 256" in bad.stderr
    paused = runner.invoke(main, [*base, "hashes", "set", "lab", "--state", "paused"])
    assert paused.exit_code == 0 and "list lab: flag, paused, distance 20" in paused.stdout
    runner.invoke(main, [*base, "hashes", "set", "logos", "--negative", "--source", "ops"])
    listed = json.loads(runner.invoke(main, [*base, "hashes", "lists", "--json"]).stdout)
    by_list = {r["list"]: r for r in listed}
    assert by_list["lab"] | {"added_at": ""} == {
        "list": "lab", "type": "md5", "count": 1, "added_at": "", "kind": "flag",
        "source": "Unit 7", "trust": "medium", "distance": 20, "state": "paused",
        "suppressed": 0, "suppressing": 0, "held": 0, "quarantined": 0,
    }
    assert by_list["logos"]["kind"] == "negative" and by_list["logos"]["count"] == 0
    text = runner.invoke(main, [*base, "hashes", "lists"]).stdout
    assert "paused" in text and "Unit 7" in text


def test_a_paused_list_never_flags_and_a_list_has_its_own_distance(
    members: MembershipStore,
) -> None:
    members.upsert([
        Entry("near", "pdq", PDQ, "", "", NOW),
        Entry("strict", "pdq", PDQ, "", "", NOW),
        Entry("lab", "md5", MD5, "", "", NOW),
    ])
    members.set_list("strict", distance=10)
    members.set_list("near", distance=40)
    stage = stage_of(members)
    stage.index.load()
    doc = page(media=[media(md5=MD5, pdq=flip_bits(PDQ, 35), pdq_quality=90)])
    [marked] = stage.mark_batch([doc])
    assert {(m.list, m.distance) for m in marked.matches} == {("near", 35), ("lab", None)}
    members.set_list("lab", state="paused")
    members.set_list("near", state="paused")
    stage.index.load()
    assert not stage.mark(doc).flagged
    assert stage.mark(page(media=[media(pdq=flip_bits(PDQ, 9), pdq_quality=90)])).matches[0].list \
        == "strict"


# -- negative lists ----------------------------------------------------------------------


def test_a_negative_list_suppresses_exact_and_near_hits_and_counts_them(
    members: MembershipStore,
) -> None:
    members.upsert([
        Entry("lab", "md5", LOGO_MD5, "", "", NOW),
        Entry("lab", "md5", MD5, "", "", NOW),
        Entry("lab", "pdq", PDQ, "", "", NOW),
    ])
    members.add_negative("logos", "md5", LOGO_MD5)
    members.add_negative("logos", "pdq", flip_bits(PDQ, 4))
    members.set_list("logos", distance=6)
    stage = stage_of(members)
    stage.index.load()
    logo_page = page(1, media=[media(md5=LOGO_MD5)])
    near_logo = page(2, media=[media(pdq=flip_bits(PDQ, 1), pdq_quality=90)])
    # 12 bits from the flagged hash but 8 from the negative one: outside the negative's 6.
    flagged = page(3, media=[media(md5=MD5), media(url="http://x.onion/b.png",
                                                   pdq=flip_bits(PDQ, 12), pdq_quality=90)])
    out = stage.mark_batch([logo_page, near_logo, flagged])
    assert [d.flagged for d in out] == [False, False, True]
    assert {m.type for m in out[2].matches} == {"md5", "pdq"}
    stats = members.stats()
    assert stats["lab"].suppressed == 2 and stats["logos"].suppressing == 2
    stage_of(members).mark_batch([logo_page, near_logo, flagged])  # the batch replayed
    assert members.stats() == stats
    members.set_list("logos", state="paused")  # a paused negative list suppresses nothing
    stage.index.load()
    assert stage.mark(logo_page).flagged


def test_a_value_goes_to_a_negative_list_only(members: MembershipStore) -> None:
    members.upsert([Entry("lab", "md5", MD5, "", "", NOW)])
    with pytest.raises(ListSettingError, match="'lab' is a flag list"):
        members.add_negative("lab", "md5", LOGO_MD5)
    [added] = members.add_negative("false-positives", "md5", MD5, entry="fp-1", source="review")
    assert added.list == "false-positives"
    assert members.list_info("false-positives").negative
    stage = stage_of(members)
    assert not stage.mark(page(media=[media(md5=MD5)])).flagged
    assert members.stats()["lab"].suppressed == 1


# -- flood quarantine --------------------------------------------------------------------


def flood_settings(data_dir: Path) -> Settings:
    rule = AlertRule(name="hits", type="hit", recipients=["desk@unit.example"])
    return Settings(
        data_dir=data_dir,
        matching=MatchingSettings(flood_hits=2, flood_window_s=3600),
        alerts=AlertSettings(rules=[rule]),
    )


async def drain(settings: Settings, *docs: Page, memory: object = None) -> MemoryStore:
    store = MemoryStore(settings, memory)  # type: ignore[arg-type]
    store.append(docs)
    async with store.writer(with_stages=True) as drainer:
        await drainer.drain_all()
    return store


def flagged_pages(store: MemoryStore) -> set[str]:
    return {d["url"] for d in store.memory.docs.get("page", {}).values() if d["flagged"]}


async def test_flood_quarantine_holds_alerts_once_survives_restart_and_releases(
    tmp_path: Path,
) -> None:
    settings = flood_settings(tmp_path)
    members = MembershipStore(membership_path(tmp_path))
    members.upsert([Entry("lab", "md5", MD5, "", "e1", NOW)])
    members.close()
    pages = [page(n, media=[media(md5=MD5)]) for n in range(1, 5)]
    store = await drain(settings, *pages[:3])
    assert flagged_pages(store) == {p.url for p in pages[:2]}  # the third hit is held
    alerts = list(store.memory.docs["alert"].values())
    quarantine = [a for a in alerts if a["rule"] == RULE_NAME]
    assert len(quarantine) == 1 and "flood quarantine: md5" in quarantine[0]["summary"]
    assert quarantine[0]["matched"][0]["kind"] == "hash"
    outbox = sqlite3.connect(tmp_path / "alerts.sqlite")
    recipients = [to for to, text in outbox.execute("SELECT recipient, text_body FROM outbox")
                  if "flood quarantine" in text]
    outbox.close()
    assert recipients == ["desk@unit.example"]
    hit_alerts = [a for a in alerts if a["rule"] == "hits"]
    store.close()
    # A restart: a new drain, new stages, the same files. The fourth hit is held too.
    store = await drain(settings, pages[3], memory=store.memory)
    assert flagged_pages(store) == {p.url for p in pages[:2]}
    assert [a for a in store.memory.docs["alert"].values() if a["rule"] == RULE_NAME] \
        == quarantine  # no second quarantine alert
    assert len([a for a in store.memory.docs["alert"].values() if a["rule"] == "hits"]) \
        == len(hit_alerts)
    store.close()
    members = MembershipStore(membership_path(tmp_path))
    [held] = members.quarantine.entries()
    assert (held.type, held.value, held.held, held.alerted) == ("md5", MD5, 2, True)
    assert members.stats()["lab"].held == 2 and members.stats()["lab"].quarantined == 1
    members.close()
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    listed = json.loads(runner.invoke(main, [*base, "hashes", "quarantine", "list", "--json"])
                        .stdout)
    assert [(r["value"], r["held"], r["lists"]) for r in listed] == [(MD5, 2, ["lab"])]
    released = runner.invoke(main, [*base, "hashes", "quarantine", "release", MD5.upper()])
    assert released.exit_code == 0, released.output
    assert "2 held documents spooled" in released.stdout
    store = MemoryStore(settings, store.memory)
    async with store.writer(with_stages=True) as drainer:
        await drainer.drain_all()
    assert flagged_pages(store) == {p.url for p in pages}  # nothing was lost
    store.close()
    # Released for good: more hits flag at once.
    store = await drain(settings, page(9, media=[media(md5=MD5)]), memory=store.memory)
    assert "http://marketabc.onion/item/9" in flagged_pages(store)
    store.close()


async def test_quarantine_remove_drops_the_value_and_its_held_hits(tmp_path: Path) -> None:
    settings = flood_settings(tmp_path)
    members = MembershipStore(membership_path(tmp_path))
    members.upsert([Entry("lab", "md5", MD5, "", "", NOW), Entry("more", "md5", MD5, "", "", NOW)])
    members.close()
    store = await drain(settings, *[page(n, media=[media(md5=MD5)]) for n in range(1, 5)])
    store.close()
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    missing = await asyncio.to_thread(
        runner.invoke, main, [*base, "hashes", "quarantine", "remove", LOGO_MD5]
    )
    assert missing.exit_code == 2 and f"no value {LOGO_MD5!r} in quarantine" in missing.stderr
    removed = await asyncio.to_thread(
        runner.invoke, main, [*base, "hashes", "quarantine", "remove", MD5]
    )
    assert removed.exit_code == 0, removed.output
    assert f"md5 {MD5} removed from lab, more; 2 held hits dropped" in removed.stdout
    members = MembershipStore(membership_path(tmp_path))
    assert members.lookup("md5", MD5) == [] and members.quarantine.entries() == []
    assert members._db.execute("SELECT COUNT(*) FROM held_docs").fetchone()[0] == 0
    members.close()


def test_a_replayed_batch_gets_the_decisions_it_got_before(members: MembershipStore) -> None:
    members.upsert([Entry("lab", "md5", MD5, "", "", NOW)])
    stage = stage_of(members, flood_hits=1)
    batch = [page(n, media=[media(md5=MD5)]) for n in range(1, 4)]
    first = [d.flagged for d in stage.mark_batch(batch)]
    again = [d.flagged for d in stage_of(members, flood_hits=1).mark_batch(batch)]
    assert first == again == [True, False, False]
    assert members.quarantine.entries()[0].held == 2
    assert members.stats()["lab"].held == 2  # counted once, not again on the replay
    # One document hitting the value in two fields and two lists is one hit.
    members.upsert([Entry("other", "md5", LOGO_MD5, "", "", NOW)])
    stage = stage_of(members, flood_hits=1)
    stage.index.load()
    double = page(7, media=[media(md5=LOGO_MD5), media(url="http://x.onion/c", md5=LOGO_MD5)])
    assert stage.mark(double).flagged


def test_hits_outside_the_window_do_not_count(members: MembershipStore) -> None:
    members.upsert([Entry("lab", "md5", MD5, "", "", NOW)])
    clock = [0.0]
    stage = MatchingStage(members, MatchingSettings(flood_hits=1, flood_window_s=60),
                          clock=lambda: clock[0])
    stage.index.load()
    for n in range(1, 4):
        clock[0] += 61
        assert stage.mark(page(n, media=[media(md5=MD5)])).flagged
    assert members.quarantine.entries() == []


# -- turned and mirrored images ----------------------------------------------------------


def test_transform_names_agree_with_the_crawler() -> None:
    from crawler.extract.pdq import PDQ_TRANSFORMS as CRAWLER_TRANSFORMS

    assert PDQ_TRANSFORMS == CRAWLER_TRANSFORMS


@pytest.mark.parametrize("multi_index", [False, True])
def test_any_dihedral_hash_matches_and_names_its_transform(
    members: MembershipStore, multi_index: bool
) -> None:
    from index.matching_mih import MIH_MIN, MihPdqIndex

    rng = np.random.default_rng(18)
    hashes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(8)]
    flagged = hashes[2]  # the flagged image, as it looks turned by 180 degrees
    entries = [Entry("lab", "pdq", flip_bits(flagged, 3), "", "e1", NOW)]
    if multi_index:
        entries += [
            Entry("bulk", "pdq", rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex(), "", "",
                  NOW)
            for _ in range(MIH_MIN)
        ]
    members.upsert(entries)
    stage = stage_of(members)
    stage.index.load()
    assert isinstance(stage.index.pdq, MihPdqIndex) == multi_index
    doc = page(media=[media(pdq=hashes[0], pdq_quality=90, pdq_dihedral=hashes)])
    [match] = stage.mark(doc).matches
    assert (match.list, match.transform, match.distance, match.value) == (
        "lab", "rot180", 3, flagged
    )
    # Several transforms within reach of one entry: the nearest wins, one match per entry.
    hashes[5] = flip_bits(flagged, 1)
    [match] = stage.mark(page(media=[media(pdq=hashes[0], pdq_quality=90,
                                           pdq_dihedral=hashes)])).matches
    assert (match.transform, match.distance) == ("flipY", 2)


def test_a_rotated_real_image_matches_through_the_drain(tmp_path: Path) -> None:
    from PIL import Image

    from crawler.extract.pdq import pdq_dihedral_of_image, pdq_of_image

    rng = np.random.default_rng(3)
    pixels = np.zeros((96, 128, 3), dtype=np.uint8)
    pixels[10:50, 20:70] = (200, 40, 40)
    pixels[60:90, 80:120] = (30, 160, 220)
    pixels += rng.integers(0, 20, pixels.shape, dtype=np.uint8)

    def png(image: Image.Image) -> bytes:
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    original = Image.fromarray(pixels)
    flagged, _ = pdq_of_image(png(original))
    members = MembershipStore(membership_path(tmp_path))
    members.upsert([Entry("lab", "pdq", flagged, "", "", NOW)])
    dihedral, quality = pdq_dihedral_of_image(png(original.transpose(Image.Transpose.ROTATE_90)))
    rotated = page(media=[media(pdq=dihedral[0], pdq_quality=quality, pdq_dihedral=dihedral)])
    plain = page(2, media=[media(pdq=dihedral[0], pdq_quality=quality)])
    members.close()
    store = MemoryStore(Settings(data_dir=tmp_path))
    store.append([rotated, plain])

    async def run() -> None:
        async with store.writer(with_stages=True) as drainer:
            await drainer.drain_all()

    asyncio.run(run())
    docs = {d["url"]: d for d in store.memory.docs["page"].values()}
    store.close()
    [match] = docs[rotated.url]["matches"]
    assert match["transform"] in ("rot90", "rot270") and match["distance"] <= 31
    assert not docs[plain.url]["flagged"]  # without its turned hashes it is not found


def test_a_paused_or_negative_keyword_list_flags_no_torrent(members: MembershipStore) -> None:
    from documents import Torrent
    from index.classify import KeywordStage

    members.upsert([Entry("words", "keyword", "lighthouse", "", "", NOW)])
    torrent = Torrent(infohash="a" * 40, first_seen=NOW, name="Lighthouse_Keeper_1998")
    assert asyncio.run(KeywordStage(members, MatchingSettings()).before_write([torrent]))[0].flagged
    for change in ({"state": "paused"}, {"state": "active", "kind": "negative"}):
        members.set_list("words", **change)
        stage = KeywordStage(members, MatchingSettings())
        assert not asyncio.run(stage.before_write([torrent]))[0].flagged


def test_observations_of_a_watched_swarm_are_not_a_flood(members: MembershipStore) -> None:
    from documents import Observation

    infohash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    members.upsert([Entry("swarms", "infohash", infohash, "", "", NOW)])
    stage = stage_of(members, flood_hits=1)
    peers = [
        Observation(infohash=infohash, ip=f"127.0.0.{n}", port=6881, first_seen=NOW,
                    last_seen=NOW, sources=["tracker"])
        for n in range(2, 6)
    ]
    assert all(d.flagged for d in stage.mark_batch(peers))
    assert members.quarantine.entries() == []


def test_the_alert_says_which_turn_of_the_image_matched() -> None:
    from alerting.rules import facts
    from documents import Match

    doc = page()
    turned = Match(list="lab", type="pdq", value=PDQ, field="media.pdq", distance=4,
                   transform="rot90")
    plain = turned.model_copy(update={"transform": "original"})
    assert dict(facts(doc, [turned]))["Matched"].endswith(
        "distance 4, image turned or mirrored (rot90)")
    assert dict(facts(doc, [plain]))["Matched"].endswith("distance 4")


async def test_an_alert_database_that_fails_delays_the_quarantine_alert(
    members: MembershipStore,
) -> None:
    from errors import BackendUnavailable

    class Failing:
        calls = 0

        def raise_alerts(self, values: object, store: object) -> None:
            self.calls += 1
            if self.calls == 1:
                raise sqlite3.OperationalError("database is locked")

    members.upsert([Entry("lab", "md5", MD5, "", "", NOW)])
    alerter = Failing()
    stage = MatchingStage(members, MatchingSettings(flood_hits=1), quarantine_alerts=alerter)
    stage.index.load()
    stage.mark_batch([page(n, media=[media(md5=MD5)]) for n in range(1, 4)])
    with pytest.raises(BackendUnavailable, match="database is locked"):
        await stage.after_commit([])
    assert [q.alerted for q in members.quarantine.entries()] == [False]
    await stage.after_commit([])  # the replayed batch: now the alert goes out, once
    await stage.after_commit([])
    assert alerter.calls == 2 and members.quarantine.entries()[0].alerted


def test_cli_negative_list_suppresses_in_the_drain_and_counts_show(tmp_path: Path) -> None:
    from index.store import Store

    flagged, logos = tmp_path / "lab.txt", tmp_path / "logos.txt"
    flagged.write_text(f"{MD5}\n{LOGO_MD5}\n")
    logos.write_text(f"{LOGO_MD5}\n")
    base = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    for args in (["--source", "Unit 7"], ["--negative", "--source", "platform defaults"]):
        path = flagged if "--negative" not in args else logos
        done = runner.invoke(main, [*base, "hashes", "import", str(path), "--type", "md5", *args])
        assert done.exit_code == 0, done.output
    store = Store(Settings(data_dir=tmp_path / "data"))
    store.append([page(1, media=[media(md5=LOGO_MD5)]), page(2, media=[media(md5=MD5)])])
    store.close()
    drained = runner.invoke(main, [*base, "index", "drain"])
    assert drained.exit_code == 0, drained.output
    found = runner.invoke(main, [*base, "search", "flagged:true", "--json"])
    assert found.exit_code == 0, found.output
    assert [h["url"] for h in _hits(found.stdout)] == ["http://marketabc.onion/item/2"]
    rows = {r["list"]: r for r in json.loads(
        runner.invoke(main, [*base, "hashes", "lists", "--json"]).stdout)}
    assert (rows["lab"]["suppressed"], rows["logos"]["suppressing"]) == (1, 1)
    assert (rows["logos"]["kind"], rows["logos"]["source"]) == ("negative", "platform defaults")


def _hits(output: str) -> list[dict[str, object]]:
    data = json.loads(output)
    hits = data["hits"]["hits"] if isinstance(data, dict) and "hits" in data else data
    return [h.get("_source", h) for h in hits]


def test_set_list_checks_what_it_is_given(members: MembershipStore) -> None:
    with pytest.raises(ListSettingError, match="unknown list setting 'colour'"):
        members.set_list("lab", colour="red")
    with pytest.raises(ListSettingError, match="unknown state 'on'"):
        members.set_list("lab", state="on")
    assert members.set_list("lab", distance="12").distance == 12
    assert members.set_list("lab", distance=None).distance is None
    assert "lab" in members.list_infos() and members.list_info("lab").state == "active"
