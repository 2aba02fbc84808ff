"""Documents the index derives from others: a magnet link on a page becomes a ``torrent``.

This is how the crawler and the probe meet without knowing each other: the crawler
indexes pages, this stage turns the magnets they carry into torrent documents (found_on
the page), and the probe watches every torrent the index holds.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from index.documents import Document, Page, Torrent


def infohashes_of_magnet(magnet: str) -> tuple[str | None, str | None, str]:
    """(v1 hex, v2 hex, display name) of a magnet URI; (None, None, "") when it names none."""
    parts = urlsplit(magnet)
    if parts.scheme != "magnet":
        return None, None, ""
    query = parse_qs(parts.query)
    v1 = v2 = None
    for xt in query.get("xt", []):
        if xt.lower().startswith("urn:btih:"):
            value = xt[9:]
            if len(value) == 40 and all(c in "0123456789abcdefABCDEF" for c in value):
                v1 = value.lower()
            elif len(value) == 32:
                try:
                    v1 = base64.b32decode(value.upper()).hex()
                except (binascii.Error, ValueError):
                    continue
        elif xt.lower().startswith("urn:btmh:1220"):
            value = xt[13:]
            if len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value):
                v2 = value.lower()
    name = query.get("dn", [""])[0]
    return v1, v2, name


def torrents_from_page(page: Page) -> list[Torrent]:
    found: dict[str, Torrent] = {}
    for magnet in page.entities.magnets:
        v1, v2, name = infohashes_of_magnet(magnet)
        key = v1 or v2
        if key is None:
            continue
        found[key] = Torrent(
            infohash=key,
            infohash_v2=v2,
            name=name,
            magnet=magnet,
            found_on=[page.url],
            first_seen=page.fetched_at,
        )
    for infohash in page.entities.infohashes:
        if infohash not in found and len(infohash) in (40, 64):
            found[infohash] = Torrent(
                infohash=infohash, found_on=[page.url], first_seen=page.fetched_at
            )
    return list(found.values())


class TorrentsFromPages:
    """Drain stage: add a torrent document for every magnet or infohash a page names."""

    name = "torrents-from-pages"

    async def before_write(self, docs: list[Document]) -> list[Document]:
        derived: list[Document] = []
        for doc in docs:
            if isinstance(doc, Page):
                derived.extend(torrents_from_page(doc))
        return [*docs, *derived]

    async def after_commit(self, docs: Sequence[Document]) -> None:
        return None
