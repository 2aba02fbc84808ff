"""Writing generated onion pages: a page remembers what it contains as it is written.

``SitePage`` collects HTML parts and, for every link, entity and image written, what an
extractor must find there (absolute links, the onions written in hrefs, valid entities,
media hashes); broken values go to the world's ``invalid`` lists. ``SiteWorld`` holds the
services' keys and hostnames, the pages, extra files and hostile markers of one generated
world. The innocuous filler text lives here too. Reads no settings.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler.extract.entities import ENTITY_KEYS
from crawler.extract.media import hash_media
from heroes.lab.site_entities import Planter, service_key
from identifiers.magnet import parse_magnet

WORDS = (
    "shipping", "listing", "vendor", "escrow", "review", "package", "tracking", "refund",
    "quality", "stock", "order", "delivery", "support", "feedback", "account", "update",
    "price", "discount", "bulk", "sample", "forum", "thread", "reply", "member", "rules",
)
SENTENCES = (
    "Orders placed before noon usually ship the same day.",
    "Please read the forum rules before you post a new thread.",
    "The vendor answered every question about the package within a day.",
    "Escrow is released once the buyer confirms delivery.",
    "Feedback from members helps everyone judge the quality of a listing.",
    "Stock is limited, so bulk orders need a message to support first.",
    "Tracking numbers are shared only through private messages.",
    "A refund is possible when the package never arrives.",
    "New members should introduce themselves in the welcome thread.",
    "Prices are listed in coins and change with the exchange rate.",
)
GERMAN = (
    "Willkommen im Forum. Bitte lies die Regeln, bevor du ein neues Thema erstellst. "
    "Bestellungen werden normalerweise am selben Tag verschickt, und der Verkäufer "
    "beantwortet Fragen zur Lieferung schnell. Für Rückfragen erreichst du uns telefonisch."
)
FRENCH = (
    "Bienvenue sur le forum. Merci de lire les règles avant de publier un nouveau sujet. "
    "Les commandes sont expédiées le jour même et le vendeur répond rapidement aux "
    "questions sur la livraison. Pour toute question, vous pouvez nous appeler."
)


class SitePage:
    """One page being written: HTML parts plus what it is known to contain."""

    def __init__(self, world: SiteWorld, service: str, path: str, title: str, lang: str = "en"):
        self.world, self.service, self.path, self.title, self.lang = (
            world, service, path, title, lang)
        self.url = world.url(service, path)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.media: list[str] = []
        self.entities: dict[str, set[str]] = {key: set() for key in ENTITY_KEYS}
        self.encoding = "utf-8"
        self.head_extra = ""

    def p(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def prose(self, sentences: int = 3) -> None:
        rng = self.world.rng
        self.p(" ".join(rng.choice(SENTENCES) for _ in range(sentences)))

    def link(self, href: str, text: str) -> None:
        """A link as written (relative or absolute); records its absolute URL and onion."""
        self.parts.append(f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>')
        if href.startswith("mailto:"):
            self.entities["emails"].add(href[len("mailto:") :])
            return
        if href.startswith("magnet:"):
            self.entities["magnets"].add(href)
            self.entities["infohashes"].update(parse_magnet(href).infohashes)
            return
        absolute = urljoin(self.url, href).split("#", 1)[0]
        if absolute not in self.links:
            self.links.append(absolute)
        # Only an onion written in the href is mentioned; a relative link names none.
        host = urlsplit(href).hostname or ""
        if host.endswith(".onion"):
            self.entities["onions"].add(host)

    def plant(self, kind: str, value: str, written: str | None = None, tag: str = "p") -> None:
        """Write ``written`` (default ``value``) and record ``value`` as a valid entity."""
        self.entities[kind].add(value)
        shown = html.escape(written if written is not None else value)
        self.parts.append(f"<{tag}>{shown}</{tag}>")

    def plant_invalid(self, kind: str, value: str, tag: str = "p") -> None:
        self.world.invalid[kind].add(value)
        self.parts.append(f"<{tag}>{html.escape(value)}</{tag}>")

    def image(self, name: str, data: bytes, flagged: bool = False) -> None:
        rel = f"img/{name}"
        self.world.files[(self.service, rel)] = data
        absolute = urljoin(self.url, rel)
        self.parts.append(f'<img src="{rel}" alt="picture">')
        self.media.append(absolute)
        hashes = hash_media(data).to_dict()
        self.world.media[absolute] = {**hashes, "flagged": flagged}

    def video(self, name: str, data: bytes, variant: str, flagged: bool = False) -> None:
        """An MP4 in a ``<video>`` element; its hashes (vPDQ too) go to the ground truth."""
        rel = f"vid/{name}"
        self.world.files[(self.service, rel)] = data
        absolute = urljoin(self.url, rel)
        self.parts.append(f'<video controls><source src="{rel}" type="video/mp4"></video>')
        self.media.append(absolute)
        self.world.media[absolute] = {**hash_media(data, "video/mp4").to_dict(),
                                      "flagged": flagged, "variant": variant}
        self.world.videos[variant] = absolute

    def render(self) -> bytes:
        charset = "" if self.encoding == "none" else f'<meta charset="{self.encoding}">'
        encoding = "latin-1" if self.encoding == "none" else self.encoding
        doc = (f'<!DOCTYPE html><html lang="{self.lang}"><head>{charset}'
               f"<title>{html.escape(self.title)}</title>{self.head_extra}</head><body>"
               f"<h1>{html.escape(self.title)}</h1>\n" + "\n".join(self.parts)
               + "\n</body></html>\n")
        return doc.encode(encoding)


class SiteWorld:
    def __init__(self, seed: int, canary_url: str, services: Sequence[str]):
        self.seed = seed
        self.rng = random.Random(seed)
        self.planter = Planter(self.rng)
        self.keys = {name: service_key(seed, name) for name in services}
        self.hosts = {name: key.hostname for name, key in self.keys.items()}
        self.canary_url = canary_url
        self.pages: list[SitePage] = []
        self.files: dict[tuple[str, str], bytes] = {}
        self.invalid: dict[str, set[str]] = {key: set() for key in ENTITY_KEYS}
        self.media: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, str] = {}  # lab video variant -> its URL
        self.hostile: dict[str, dict[str, Any]] = {}
        self.dead_onions: list[str] = []

    def url(self, service: str, path: str) -> str:
        return f"http://{self.hosts[service]}{path}"

    def page(self, service: str, path: str, title: str, lang: str = "en") -> SitePage:
        page = SitePage(self, service, path, title, lang)
        self.pages.append(page)
        return page

    def marker(self, service: str, path: str, spec: dict[str, Any]) -> str:
        self.files[(service, path.lstrip("/") + ".hostile.json")] = json.dumps(spec).encode()
        url = self.url(service, path)
        self.hostile[url] = spec
        return url
