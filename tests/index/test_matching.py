"""Matching at ingest: flagged values mark documents exactly; PDQ within distance 31."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from config import Settings
from config.sections.matching import MatchingSettings
from documents import Alert, FlaggedHash, Observation, Page, Torrent
from index.hashsets import membership
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.matching import MatchingStage
from tests.index.test_alerts_memory_backend import MemoryStore

MD5 = "0123456789abcdef0123456789abcdef"
INFOHASH = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
INFOHASH_V2 = "ab" * 32
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
PDQ = "f0" * 32
NOW = "2026-11-29T12:00:00Z"


def flip_bits(hex_value: str, n: int) -> str:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(hex_value), dtype=np.uint8))
    bits[:n] ^= 1
    return np.packbits(bits).tobytes().hex()


@pytest.fixture
def stage(tmp_path: Path) -> MatchingStage:
    store = MembershipStore(tmp_path / "hashsets.sqlite")
    store.upsert(
        [
            Entry("lab", "md5", MD5, "cat-a", "e1", NOW),
            Entry("lab", "infohash", INFOHASH, "swarm", "e2", NOW),
            Entry("other", "infohash", INFOHASH, "", "x9", NOW),
            Entry("lab", "infohash", INFOHASH_V2, "", "e3", NOW),
            Entry("wallets", "btc", BTC, "w", "e4", NOW),
            Entry("lab", "pdq", PDQ, "img", "e5", NOW),
        ]
    )
    yield MatchingStage(store, MatchingSettings())
    store.close()


def page(**kw: object) -> Page:
    return Page(url="http://marketabc.onion/item/1", fetched_at=NOW, **kw)


async def test_page_media_md5_marks_page_and_media(stage: MatchingStage) -> None:
    doc = page(
        media=[
            {"url": "http://marketabc.onion/a.png", "md5": MD5.upper()},
            {"url": "http://marketabc.onion/b.png", "md5": "f" * 32},
        ]
    )
    [marked] = await stage.before_write([doc])
    assert marked.flagged
    assert [(m.list, m.type, m.value, m.field, m.category, m.entry) for m in marked.matches] == [
        ("lab", "md5", MD5, "media.md5", "cat-a", "e1")
    ]
    assert [m.flagged for m in marked.media] == [True, False]


async def test_magnet_link_on_a_page_matches_its_infohash_on_every_list(
    stage: MatchingStage,
) -> None:
    doc = page(entities={"magnets": [f"magnet:?xt=urn:btih:{INFOHASH.upper()}&dn=lab"]})
    [marked] = await stage.before_write([doc])
    assert sorted((m.list, m.field) for m in marked.matches) == [
        ("lab", "entities.magnets"),
        ("other", "entities.magnets"),
    ]


async def test_wallet_observation_and_torrent(stage: MatchingStage) -> None:
    obs = Observation(
        infohash="1" * 40,
        infohash_v2=INFOHASH_V2,
        ip="127.0.0.5",
        port=6881,
        first_seen=NOW,
        last_seen=NOW,
    )
    torrent = Torrent(infohash=INFOHASH, first_seen=NOW)
    wallet = page(entities={"btc": [BTC]})
    marked = await stage.before_write([obs, torrent, wallet])
    assert [[(m.type, m.field) for m in d.matches] for d in marked] == [
        [("infohash", "infohash_v2")],
        [("infohash", "infohash"), ("infohash", "infohash")],
        [("btc", "entities.btc")],
    ]


async def test_pdq_within_distance_and_quality(stage: MatchingStage) -> None:
    near = page(
        media=[
            {"url": "http://marketabc.onion/n.jpg", "pdq": flip_bits(PDQ, 31), "pdq_quality": 90}
        ]
    )
    far = page(
        media=[
            {"url": "http://marketabc.onion/f.jpg", "pdq": flip_bits(PDQ, 32), "pdq_quality": 90}
        ]
    )
    poor = page(media=[{"url": "http://marketabc.onion/p.jpg", "pdq": PDQ, "pdq_quality": 49}])
    marked = await stage.before_write([near, far, poor])
    assert [d.flagged for d in marked] == [True, False, False]
    assert marked[0].matches[0].distance == 31 and marked[0].media[0].flagged


async def test_unflagged_and_own_documents_pass_untouched(stage: MatchingStage) -> None:
    plain = page(
        media=[{"url": "http://marketabc.onion/a.png", "md5": "e" * 32}],
        entities={"btc": ["not-a-wallet"]},
    )
    hashdoc = FlaggedHash(value=MD5, type="md5", list="lab", added_at=NOW)
    alert = Alert(rule="r", window_start=NOW, created_at=NOW, first_seen=NOW, last_seen=NOW)
    docs = [plain, hashdoc, alert]
    assert await stage.before_write(docs) == docs


async def test_membership_is_exact_even_when_prefilter_keys_collide(
    stage: MatchingStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(membership, "prefilter_key", lambda t, v: 7)
    monkeypatch.setattr("index.matching_index.prefilter_key", lambda t, v: 7)
    store = stage.index.store
    store.upsert([Entry("lab2", "sha1", "a" * 40, "", "", NOW)])  # reloads with colliding keys
    stage.index.generation = -1
    doc = page(media=[{"url": "http://marketabc.onion/a.png", "sha1": "b" * 40}])
    [marked] = await stage.before_write([doc])
    assert not marked.flagged


async def test_new_list_is_picked_up_without_restart(stage: MatchingStage) -> None:
    doc = page(entities={"emails": ["Vendor@Lab.Onion"]})
    assert not (await stage.before_write([doc]))[0].flagged
    stage.index.store.upsert([Entry("mail", "email", "vendor@lab.onion", "", "", NOW)])
    stage._checked_at = 0.0
    assert (await stage.before_write([doc]))[0].flagged


async def test_drain_marks_documents_in_the_index(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    members = MembershipStore(membership_path(tmp_path))
    members.upsert([Entry("lab", "md5", MD5, "", "", NOW)])
    store = MemoryStore(settings)
    store.append([page(media=[{"url": "http://marketabc.onion/a.png", "md5": MD5}])])
    async with store.writer(with_stages=True) as drainer:
        await drainer.drain_all()
    [source] = store.memory.docs["page"].values()
    assert source["flagged"] and source["matches"][0]["list"] == "lab"
    members.close()
    store.close()


def test_multi_index_pdq_search_equals_a_full_scan() -> None:
    from index.matching_mih import MIH_MIN, MihPdqIndex, pdq_index
    from index.matching_pdq import PdqIndex

    rng = np.random.default_rng(5)
    words = rng.integers(0, 2**64, size=(MIH_MIN, 4), dtype=np.uint64)
    fast, full = pdq_index(words, 31), PdqIndex(words, 31)
    assert isinstance(fast, MihPdqIndex)
    for n in range(60):
        bits = np.unpackbits(words[n * 7].astype(">u8").view(np.uint8))
        bits[rng.choice(256, int(n % 40), replace=False)] ^= 1
        query = np.packbits(bits).view(">u8").astype(np.uint64)
        got, want = fast.near(query), full.near(query)
        assert sorted(zip(*got, strict=True)) == sorted(zip(*want, strict=True))
        assert (n % 40 <= 31) == (n * 7 in got[0].tolist())


def test_pdq_words_and_hex_of_are_each_others_inverse() -> None:
    from index.matching_pdq import PdqIndex, pdq_word, pdq_words

    rng = np.random.default_rng(7)
    hexes = [rng.bytes(32).hex() for _ in range(5)]
    index = PdqIndex(pdq_words(hexes), 0)
    assert [index.hex_of(i) for i in range(5)] == hexes
    assert pdq_words([]).shape == (0, 4)
    assert (pdq_word(hexes[2]) == pdq_words(hexes)[2]).all()
    assert pdq_word("ab" * 31) is None and pdq_word("zz" * 32) is None
    with pytest.raises(ValueError):
        pdq_words(["ab" * 31])
