"""Documents the index derives from others: a magnet link on a page becomes a ``torrent``.

This is how the crawler and the probe meet without knowing each other: the crawler
indexes pages, this stage turns the magnets they carry into torrent documents (found_on
the page), and the probe watches every torrent the index holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from documents import Document, Page, Torrent
from identifiers import InvalidIdentifier
from identifiers.magnet import parse_magnet


def infohashes_of_magnet(magnet: str) -> tuple[str | None, str | None, str]:
    """(v1 hex, v2 hex, display name) of a magnet URI; (None, None, "") when it names none."""
    try:
        parsed = parse_magnet(magnet)
    except InvalidIdentifier:
        return None, None, ""
    v1 = parsed.v1[0] if parsed.v1 else None
    v2 = parsed.v2[0] if parsed.v2 else None
    return v1, v2, parsed.name


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
    named = {*found, *(t.infohash_v2 for t in found.values() if t.infohash_v2)}
    for infohash in page.entities.infohashes:
        # A hybrid link's v2 is its torrent's infohash_v2, not a torrent of its own.
        if infohash not in named and len(infohash) in (40, 64):
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
