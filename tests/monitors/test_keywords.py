"""Keyword lists: normal form, whole-word matching in any script, and the drain stage."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from config.sections.matching import MatchingSettings
from documents import Torrent
from documents.torrent import TorrentFile
from index.classify import KeywordStage
from index.hashsets.membership import Entry, MembershipStore
from index.hashsets.registry import HASH_TYPES
from index.keywords import KeywordMatcher

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_entries_are_normalised_and_case_folded() -> None:
    assert HASH_TYPES.normalize("keyword", "  Harbour__LIGHTS ") == "harbour lights"
    assert HASH_TYPES.normalize("keyword", "ＬＩＧＨＴＨＯＵＳＥ") == "lighthouse"
    assert HASH_TYPES.normalize("keyword", "Straße") == "strasse"


def test_matcher_whole_words_in_spaced_scripts_anywhere_in_unspaced_ones() -> None:
    m = KeywordMatcher(["art", "harbour lights", "strasse", "灯台"])
    assert m.find("Party.Mix.2020") == []  # "art" inside a word
    assert m.find("Modern_Art_Collection") == ["art"]
    assert m.find("Old.HARBOUR-Lights.1998") == ["harbour lights"]
    assert m.find("Hauptstraße Fotos") == []  # "strasse" inside a word
    assert m.find("Straße der Sonne") == ["strasse"]
    assert m.find("古い灯台の写真") == ["灯台"]
    assert not KeywordMatcher([])


def test_stage_flags_torrents_by_name_or_file_name(tmp_path: Path) -> None:
    store = MembershipStore(tmp_path / "hashsets.sqlite")
    try:
        store.upsert([Entry("lab-keywords", "keyword", "lighthouse", "lab", "e1", NOW.isoformat())])
        stage = KeywordStage(store, MatchingSettings())
        by_name = Torrent(infohash="a" * 40, first_seen=NOW, name="Lighthouse_Keeper_1998")
        by_file = Torrent(infohash="b" * 40, first_seen=NOW, name="Misc",
                          files=[TorrentFile(path="misc/the lighthouse.txt", size=1)])
        plain = Torrent(infohash="c" * 40, first_seen=NOW, name="Garden Notes")
        out = asyncio.run(stage.before_write([by_name, by_file, plain]))
    finally:
        store.close()
    assert [d.flagged for d in out] == [True, True, False]
    assert [(m.list, m.type, m.value, m.field) for m in out[0].matches] == [
        ("lab-keywords", "keyword", "lighthouse", "name")]
    assert out[1].matches[0].field == "files.path"
