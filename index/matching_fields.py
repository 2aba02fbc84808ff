"""Which values of a document are checked against the flagged lists (pure functions).

page: media md5/sha1/sha256/pdq (PDQ with its quality; with the image's eight dihedral
PDQ hashes, ``pdq_dihedral``, each of them, naming its transform), entities btc/xmr/eth/emails/pgp,
infohashes and magnet links (every infohash a link names: both of a hybrid torrent);
observation: infohash and infohash_v2; torrent: infohash and infohash_v2. Values are
normalised by their identifier type (:mod:`identifiers`), the one hash lists are normalised
by, so that upper-case hex, an EIP-55 address or a magnet link match the stored canonical
form; values that do not parse are skipped (the producer validated what it could; an odd
value simply cannot be on a list).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from documents import Document, Observation, Page, Torrent
from identifiers import IDENTIFIERS, InvalidIdentifier
from identifiers.infohash import infohashes_of

# The order of ``Media.pdq_dihedral`` (pdqhash.compute_dihedral's order). The crawler names
# the same order; index cannot import it, and a test checks that the two agree.
PDQ_TRANSFORMS = (
    "original", "rot90", "rot180", "rot270", "flipX", "flipY", "flipPlus1", "flipMinus1"
)

ENTITY_TYPES = {
    "btc": "btc",
    "xmr": "xmr",
    "eth": "eth",
    "emails": "email",
    "pgp": "pgp",
    "infohashes": "infohash",
    "magnets": "infohash",
}


class Probe(NamedTuple):
    """One value to look up (a tuple: built for every hash of every page, so kept cheap)."""

    type: str
    value: str  # normalised
    field: str  # where in the document, e.g. media.sha256
    media: int | None = None  # index into page.media
    quality: int | None = None  # PDQ only
    transform: str | None = None  # PDQ of a turned or mirrored image: which (PDQ_TRANSFORMS)


def probes_of(doc: Document) -> list[Probe]:
    if isinstance(doc, Page):
        return _page(doc)
    if isinstance(doc, Observation | Torrent):
        out = [_probe("infohash", doc.infohash, "infohash")]
        if doc.infohash_v2:
            out.append(_probe("infohash", doc.infohash_v2, "infohash_v2"))
        return [p for p in out if p is not None]
    return []


def _page(page: Page) -> list[Probe]:
    out: list[Probe | None] = []
    for i, media in enumerate(page.media):
        for name in ("md5", "sha1", "sha256"):
            value = getattr(media, name)
            if value:
                out.append(_probe(name, value, f"media.{name}", media=i))
        dihedral = getattr(media, "pdq_dihedral", None) or []
        if media.pdq and not dihedral:
            out.append(_probe("pdq", media.pdq, "media.pdq", media=i, quality=media.pdq_quality))
        for transform, value in zip(PDQ_TRANSFORMS, dihedral, strict=False):
            out.append(
                _probe("pdq", value, "media.pdq", media=i, quality=media.pdq_quality,
                       transform=transform)
            )
    for attr, type_name in ENTITY_TYPES.items():
        for value in getattr(page.entities, attr):
            if attr == "magnets":
                out += [Probe(type_name, h, "entities.magnets") for h in _magnet_hashes(value)]
            else:
                out.append(_probe(type_name, value, f"entities.{attr}"))
    return list(dict.fromkeys(p for p in out if p is not None))


@lru_cache(maxsize=65536)
def _normalized(type_name: str, raw: str) -> str | None:
    # Wallets, emails and magnets recur across pages; base58check and URL parsing are not free.
    try:
        return IDENTIFIERS.get(type_name).parse(raw)
    except InvalidIdentifier:
        return None


@lru_cache(maxsize=16384)
def _magnet_hashes(link: str) -> tuple[str, ...]:
    try:
        return infohashes_of(link)
    except InvalidIdentifier:
        return ()


def _probe(
    type_name: str,
    raw: str,
    field: str,
    *,
    media: int | None = None,
    quality: int | None = None,
    transform: str | None = None,
) -> Probe | None:
    value = _normalized(type_name, raw)
    if value is None:
        return None
    return Probe(type_name, value, field, media, quality, transform)
