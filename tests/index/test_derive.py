"""Magnets on pages become torrent documents that the probe can watch."""

from __future__ import annotations

import asyncio

from documents import Page
from index.derive import TorrentsFromPages, infohashes_of_magnet

V1 = "05b307769eaa8094e399ae3d1fee8a9e180b5b3b"
V2 = "aad7c71d9c8ee110f3d7ae7e6f5c217e329ae9fba0eb5e67502186251d282154"


def test_magnet_parsing() -> None:
    assert infohashes_of_magnet(f"magnet:?xt=urn:btih:{V1.upper()}&dn=lab") == (V1, None, "lab")
    assert infohashes_of_magnet(f"magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}") == (V1, V2, "")
    b32 = "AWZQO5U6VKAJJY4ZVY6R73UKTYMAWW1B"  # not base32 ('1'): ignored
    assert infohashes_of_magnet(f"magnet:?xt=urn:btih:{b32}") == (None, None, "")
    assert infohashes_of_magnet("http://x.onion/") == (None, None, "")


def test_stage_adds_torrents_found_on_the_page() -> None:
    page = Page(url="http://abc.onion/files", fetched_at="2026-11-28T12:00:00Z",
                entities={"magnets": [f"magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}&dn=lab"]})
    out = asyncio.run(TorrentsFromPages().before_write([page]))
    assert out[0] is page
    torrent = out[1]
    assert (torrent.KIND, torrent.infohash, torrent.infohash_v2, torrent.found_on) == (
        "torrent", V1, V2, ["http://abc.onion/files"])


def test_a_hybrid_magnet_is_one_torrent_with_both_infohashes() -> None:
    link = f"magnet:?xt=urn:btmh:1220{V2.upper()}&xt=urn:btih:{V1}&dn=lab"
    page = Page(url="http://abc.onion/files", fetched_at="2026-11-28T12:00:00Z",
                entities={"magnets": [link], "infohashes": [V1, V2]})
    out = asyncio.run(TorrentsFromPages().before_write([page]))
    assert [(t.infohash, t.infohash_v2, t.name) for t in out[1:]] == [(V1, V2, "lab")]
