"""vPDQ matching: shares of frames both ways, time ranges, lists' say, drain and alert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alerting.db import AlertDB, alert_db_path
from alerting.outbox import Outbox
from alerting.state import AlertState
from config import Settings
from config.sections.matching import MatchingSettings
from crawler.extract.pdq import pdq_of_pixels
from documents import Page
from identifiers.vpdq import VpdqFrame, canonical, frames_of, media_frames
from index.hashsets.importer import import_file
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.matching import MatchingStage
from index.matching_mih import MIH_MIN
from index.matching_vpdq import VpdqIndex
from tests.index.test_alerts_memory_backend import MemoryStore

NOW = "2026-11-29T12:00:00Z"
URL = "http://marketabc.onion/watch/1"


def scene(rng: np.random.Generator) -> np.ndarray:
    """One frame: a coarse grid of random colours (a strong, distinct PDQ hash)."""
    grid = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    return np.kron(grid, np.ones((24, 24, 1), dtype=np.uint8))


def clip(seed: int, seconds: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [scene(rng) for _ in range(seconds)]


def hashed(frames: list[np.ndarray], *, noise: int = 0, seed: int = 0) -> list[VpdqFrame]:
    """The vPDQ of frames shown one per second, with some pixel noise (a re-encoding)."""
    rng = np.random.default_rng(seed)
    out = []
    for t, img in enumerate(frames):
        if noise:
            jitter = rng.integers(-noise, noise + 1, img.shape)
            img = np.clip(img.astype(int) + jitter, 0, 255).astype(np.uint8)
        pdq, quality = pdq_of_pixels(img)
        out.append(VpdqFrame(float(t), pdq, quality))
    return out


ORIGINAL = clip(1, 12)


@pytest.fixture(scope="module")
def frames() -> dict[str, list[VpdqFrame]]:
    return {
        "original": hashed(ORIGINAL),
        # seconds 3..11 of the original, re-encoded: a clip of it
        "trimmed": hashed(ORIGINAL[3:], noise=20, seed=5),
        # two foreign seconds inserted after second 5
        "inserted": hashed(ORIGINAL[:6] + clip(9, 2) + ORIGINAL[6:], noise=10, seed=6),
        # four flagged seconds inside a long unrelated video
        "excerpt": hashed(clip(4, 10) + ORIGINAL[:4] + clip(5, 10)),
        "unrelated": hashed(clip(2, 12)),
        "other": hashed(clip(3, 10)),
    }


def test_a_clip_and_a_padded_copy_match_with_their_time_ranges(frames: dict) -> None:
    index = VpdqIndex([("flagged", frames["original"]), ("other", frames["other"])])
    [trimmed] = index.match(frames["trimmed"])
    assert (trimmed.key, trimmed.query_fraction, trimmed.entry_fraction) == ("flagged", 1.0, 0.75)
    assert trimmed.time_ranges == [(0.0, 8.0)]
    [inserted] = index.match(frames["inserted"])
    assert (inserted.query_fraction, inserted.entry_fraction) == (round(12 / 14, 4), 1.0)
    assert inserted.time_ranges == [(0.0, 5.0), (8.0, 13.0)]
    assert index.match(frames["unrelated"]) == []
    # Four flagged seconds in a 24-second video: a third of the entry, a sixth of the video.
    assert index.match(frames["excerpt"]) == []
    low = VpdqIndex([("flagged", frames["original"])], match_fraction=0.3)
    [excerpt] = low.match(frames["excerpt"])
    assert excerpt.time_ranges == [(10.0, 13.0)]


def test_each_lab_video_variant_matches_its_original_and_an_unrelated_one_does_not() -> None:
    from crawler.extract.video import vpdq_of_video
    from heroes.lab.videos import DERIVED_VARIANTS, lab_videos

    videos = {name: frames_of(vpdq_of_video(body).frames) for name, body in lab_videos(7).items()}
    index = VpdqIndex([("original", videos["original"])])
    for name in DERIVED_VARIANTS:
        [hit] = index.match(videos[name])
        assert max(hit.query_fraction, hit.entry_fraction) >= 0.8, name
        assert hit.time_ranges and hit.time_ranges[0][0] == 0.0, name
    assert index.match(videos["unrelated"]) == []


def test_requiring_both_shares_refuses_a_clip(frames: dict) -> None:
    index = VpdqIndex([("flagged", frames["original"])], require_both=True)
    assert index.match(frames["trimmed"]) == []
    assert [h.key for h in index.match(hashed(ORIGINAL, noise=10))] == ["flagged"]


def test_frames_below_the_quality_floor_are_not_compared(frames: dict) -> None:
    flat = [f._replace(q=10) for f in frames["original"]]
    assert VpdqIndex([("flagged", flat)]).match(frames["original"]) == []
    assert VpdqIndex([("flagged", frames["original"])]).match(flat) == []
    assert VpdqIndex([("flagged", flat)], min_quality=0).match(flat)


def _brute(query: list[VpdqFrame], entry: list[VpdqFrame], d: int) -> tuple[float, float]:
    """vPDQ's reference comparison (ThreatExchange vpdq/README.md), frame against frame."""

    def near(a: str, b: str) -> bool:
        return bin(int(a, 16) ^ int(b, 16)).count("1") <= d

    q = {f.pdq for f in query if f.q >= 50}
    c = {f.pdq for f in entry if f.q >= 50}
    q_hit = sum(any(near(x, y) for y in c) for x in q)
    c_hit = sum(any(near(y, x) for x in q) for y in c)
    return round(q_hit / len(q), 4), round(c_hit / len(c), 4)


def _noisy(rng: np.random.Generator, base: str, bits: int) -> str:
    value = int(base, 16) ^ sum(1 << int(b) for b in rng.choice(256, bits, replace=False))
    return f"{value:064x}"


@pytest.mark.parametrize("entries", [40, MIH_MIN // 2])  # full scan, then multi-index hashing
def test_fractions_equal_the_brute_force_comparison(entries: int) -> None:
    rng = np.random.default_rng(entries)
    pool = [f"{int(x):016x}" * 4 for x in rng.integers(0, 2**63, 30)]
    videos = []
    for n in range(entries):
        picks = rng.choice(len(pool), rng.integers(2, 6), replace=False)
        frames = [VpdqFrame(float(t), _noisy(rng, pool[p], int(rng.integers(0, 40))), 90)
                  for t, p in enumerate(picks)]
        videos.append((f"v{n}", frames))
    index = VpdqIndex(videos, match_fraction=0.01)
    assert index.frames >= (MIH_MIN if entries > 100 else 1)
    for _ in range(5):
        picks = rng.choice(len(pool), 6, replace=False)
        query = [VpdqFrame(float(t), _noisy(rng, pool[p], 5), 80) for t, p in enumerate(picks)]
        got = {h.key: (h.query_fraction, h.entry_fraction) for h in index.match(query)}
        want = {key: _brute(query, frames, 31) for key, frames in videos}
        assert got == {k: v for k, v in want.items() if v != (0.0, 0.0)}


# At drain: the membership store, list settings, the MatchingStage and the alert engine.


def _page(frames: list[VpdqFrame], sha256: str = "ab" * 32) -> Page:
    media = {"url": URL + ".mp4", "kind": "video", "sha256": sha256, "vpdq": media_frames(frames)}
    return Page(url=URL, fetched_at=NOW, media=[media])


def _vpdq_file(path: Path, frames: list[VpdqFrame]) -> Path:
    """The frames as ThreatExchange's vpdq-hash-video writes them."""
    path.write_text("".join(
        f"{n},{f.q},{f.pdq},{f.t:.3f}\n" for n, f in enumerate(frames)))
    return path


@pytest.fixture
def members(tmp_path: Path) -> MembershipStore:
    store = MembershipStore(tmp_path / "hashsets.sqlite")
    yield store
    store.close()


async def test_a_page_video_is_flagged_naming_entry_fractions_and_ranges(
    frames: dict, members: MembershipStore, tmp_path: Path
) -> None:
    report = import_file(_vpdq_file(tmp_path / "clip-17.vpdq", frames["original"]), members,
                         lambda docs: 0, list_name="videos", category="cat-v")
    assert (report.imported, report.problems) == (1, [])
    stage = MatchingStage(members, MatchingSettings())
    trimmed, unrelated = await stage.before_write(
        [_page(frames["trimmed"]), _page(frames["unrelated"], "cd" * 32)])
    assert not unrelated.flagged and trimmed.flagged and trimmed.media[0].flagged
    [match] = trimmed.matches
    assert (match.list, match.type, match.field, match.entry, match.category) == (
        "videos", "vpdq", "media.vpdq", "clip-17", "cat-v")
    assert match.value == "ab" * 32  # the file's digest: the frames are too long to index
    assert (match.query_fraction, match.entry_fraction, match.time_ranges) == (
        1.0, 0.75, ((0.0, 8.0),))
    assert stage.vpdq.matches_for_page(_page(frames["trimmed"])) == [(0, match)]
    # Frames the crawler got wrong cost that video its matching, never the page.
    odd = _page(frames["trimmed"]).model_copy(update={"media": [
        trimmed.media[0].model_copy(update={"vpdq": [{"t": 0, "pdq": "zz", "q": 90}]})]})
    assert not (await stage.before_write([odd]))[0].flagged


async def test_paused_and_negative_lists_have_their_say(
    frames: dict, members: MembershipStore
) -> None:
    value = canonical(frames["original"])
    members.upsert([Entry("videos", "vpdq", value, "", "e1", NOW)])
    stage = MatchingStage(members, MatchingSettings())
    doc = _page(frames["inserted"])
    assert (await stage.before_write([doc]))[0].flagged
    members.set_list("videos", state="paused")
    stage._checked_at = 0.0
    assert not (await stage.before_write([doc]))[0].flagged
    members.set_list("videos", state="active")
    members.add_negative("harmless", "vpdq", canonical(frames["original"][:8]))
    stage._checked_at = 0.0
    [kept] = await stage.before_write([doc])
    assert not kept.flagged and stage.counters["suppressed"] == 1
    assert stage.vpdq.matches_for_page(doc) == []
    # A list's own distance: 0 bits finds none of the re-encoded frames.
    members.remove_list("harmless")
    members.set_list("videos", distance=0)
    stage._checked_at = 0.0
    assert not (await stage.before_write([doc]))[0].flagged
    assert (await stage.before_write([_page(frames["original"])]))[0].flagged


async def test_a_change_elsewhere_reloads_entries_without_rebuilding_the_video_index(
    frames: dict, members: MembershipStore
) -> None:
    value = canonical(frames["original"])
    members.upsert([Entry("videos", "vpdq", value, "c1", "e1", NOW)])
    stage = MatchingStage(members, MatchingSettings())
    await stage.before_write([])
    [index] = stage.vpdq.indexes.values()
    members.upsert([Entry("videos", "vpdq", value, "c2", "e1", NOW),
                    Entry("mail", "email", "vendor@lab.onion", "", "", NOW)])
    stage._checked_at = 0.0
    [marked] = await stage.before_write([_page(frames["trimmed"])])
    assert list(stage.vpdq.indexes.values()) == [index]
    assert marked.matches[0].category == "c2"
    members.upsert([Entry("videos", "vpdq", canonical(frames["other"]), "", "e2", NOW)])
    stage._checked_at = 0.0
    await stage.before_write([])
    assert list(stage.vpdq.indexes.values()) != [index] and len(stage.vpdq) == 2


async def test_the_flood_quarantine_holds_a_video_entry_that_hits_too_often(
    frames: dict, members: MembershipStore
) -> None:
    members.upsert([Entry("videos", "vpdq", canonical(frames["original"]), "", "e1", NOW)])
    stage = MatchingStage(members, MatchingSettings(flood_hits=1), clock=lambda: 1000.0)
    first, second = (
        _page(frames["trimmed"]),
        _page(frames["inserted"]).model_copy(update={"url": URL + "?copy=2"}),
    )
    marked = await stage.before_write([first])
    held = await stage.before_write([second])
    assert marked[0].flagged and not held[0].flagged and stage.counters["held"] == 1
    [quarantined] = members.quarantine.entries()
    assert (quarantined.type, quarantined.value) == ("vpdq", canonical(frames["original"]))


async def test_drain_flags_the_page_and_the_alert_email_names_the_time_ranges(
    frames: dict, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        alerts={"rules": [{"name": "videos", "type": "hit", "recipients": ["a@lab.localhost"]}]},
    )
    members = MembershipStore(membership_path(tmp_path))
    members.upsert([Entry("videos", "vpdq", canonical(frames["original"]), "", "clip-17", NOW)])
    store = MemoryStore(settings)
    store.append([_page(frames["inserted"])])
    async with store.writer(with_stages=True) as drainer:
        await drainer.drain_all()
    [source] = store.memory.docs["page"].values()
    assert source["flagged"] and source["media"][0]["flagged"]
    assert source["matches"][0]["time_ranges"] == [[0.0, 5.0], [8.0, 13.0]]
    db = AlertDB(alert_db_path(tmp_path))
    [record] = AlertState(db).list()
    assert record.rule == "videos"
    [message] = Outbox(db).messages()
    [line] = [x for x in message.text_body.splitlines() if x.startswith("Matched:")]
    assert line.split(None, 1)[1] == (
        f"vpdq {'ab' * 32} in media.vpdq: list videos, entry clip-17, "
        "86% of the video's frames (100% of the entry's) at 0:00-0:05, 0:08-0:13"
    )
    db.close()
    members.close()
    store.close()
