"""Generated operator groups: onion sites run by the same people, and decoys that are not.

Each group of sites shares one kind of value: an analytics id (``analytics``), a favicon
(``favicon``), a PGP key (``pgp``), templated advert text (``template``), a contact phone
and e-mail (``contact``, whose adverts move between sites over time) or one picture, each
site serving its own re-encoding of it (``image``: near-identical PDQ hashes, different
bytes); every other site shows a picture of its own. Decoys share only
common values: the web server's stock favicon, a tracker id on the lab suppression list
(:data:`COMMON_VALUES`) and the same page skeleton (a weak hint), with generic market text
of their own. :func:`relaunched` re-serves a site under a new onion with the same favicon,
PGP key and template. Every site is deterministic in the seed; the text is innocuous
generic market copy. Reads no settings.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from html import escape

from PIL import Image

from heroes.lab.site_entities import Planter

GROUP_KINDS = ("analytics", "favicon", "pgp", "template", "contact", "image")
# A favicon and a tracker id many unrelated sites carry (the server's stock icon, a demo
# snippet's id): what a unit puts on its suppression list.
STOCK_FAVICON = b"\x00\x00\x01\x00\x01\x00\x10\x10stock-server-icon" + bytes(range(64))
COMMON_ANALYTICS = "UA-1000000-1"
COMMON_VALUES = (COMMON_ANALYTICS,)

_WORDS = (
    "shop market vendor listing order shipping stock price quality review escrow support "
    "delivery tracking package customer account wallet balance deposit refund policy "
    "catalogue item product offer discount bundle express standard worldwide domestic "
    "secure fast reliable trusted verified rating feedback message contact update news "
    "service payment confirm dispatch week daily hours response team guide terms notice"
).split()
_TEMPLATE = (
    "Welcome to {name}. We are a trusted vendor with a long record of reliable service and "
    "careful packaging. Every order is dispatched within two working days and tracked from "
    "our warehouse to your door. Our catalogue lists only items we keep in stock, and each "
    "listing shows the real price with no hidden costs. Payment goes through escrow and is "
    "released only after you confirm the delivery. If a package does not arrive we send a "
    "replacement or refund the full amount, no questions asked. Read the reviews left by "
    "our customers and the feedback on every product page. Support answers messages every "
    "day between nine and five and usually replies within a few hours. Bulk orders get a "
    "discount of {discount} percent on the second item and free express shipping for "
    "worldwide destinations. New customers should read the guide before the first order: it "
    "explains how the account works, how to add funds to the wallet, how long each shipping "
    "option takes and what to do when a tracking number shows no update for a week. Prices "
    "are updated every morning and the stock list is refreshed after each dispatch round. "
    "We never ask for payment outside escrow and never contact customers first. Keep your "
    "account details to yourself and check the address of this page every time you visit. "
    "Thank you for choosing us, we look forward to your order."
)


@dataclass(frozen=True)
class OperatorSite:
    """One generated onion site: its pages (path -> HTML) and its favicon bytes."""

    host: str
    name: str
    group: str  # the group's name, or "" for a decoy
    shares: str  # what the group shares (GROUP_KINDS), "" for a decoy
    favicon: bytes
    pages: dict[str, bytes] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)  # path -> JPEG bytes

    @property
    def front_url(self) -> str:
        return f"http://{self.host}/"


@dataclass(frozen=True)
class _Traits:
    analytics: str
    favicon: bytes
    pgp_block: str
    template: bool
    phone: str
    email: str
    picture: bytes = b""


def _icon(rng: random.Random) -> bytes:
    # An ICO header: the favicon hash is only taken of a body that is an image.
    return b"\x00\x00\x01\x00" + rng.randbytes(92)


def _generic_text(rng: random.Random, words: int) -> str:
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 12)))
        sentences.append(sentence.capitalize() + ".")
    return " ".join(sentences)


def _page(site_name: str, traits: _Traits, rng: random.Random, discount: int) -> bytes:
    if traits.template:
        body = _TEMPLATE.format(name=site_name, discount=discount)
    else:
        body = _generic_text(rng, 160)
    extra = ['<img src="/photo.jpg" alt="">'] if traits.picture else []
    if traits.pgp_block:
        extra.append(f"<pre>{escape(traits.pgp_block)}</pre>")
    if traits.phone:
        extra.append(f"<p>Call or text {escape(traits.phone)}</p>")
    if traits.email:
        extra.append(f"<p>Write to <a href=\"mailto:{traits.email}\">{traits.email}</a></p>")
    script = (f"<script>gtag('config', '{traits.analytics}');</script>"
              if traits.analytics else "")
    html = (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f"<title>{escape(site_name)}</title><link rel=\"icon\" href=\"/favicon.ico\">"
        f"{script}</head><body><h1>{escape(site_name)}</h1><div class=\"main\"><p>"
        f"{escape(body)}</p>{''.join(extra)}</div></body></html>"
    )
    return html.encode()


def _site(planter: Planter, rng: random.Random, name: str, group: str, shares: str,
          traits: _Traits, host: str | None = None) -> OperatorSite:
    host = host or planter.onion()
    page = _page(name, traits, rng, discount=rng.randint(10, 40))
    images = {"/photo.jpg": _jpeg(traits.picture, rng.randint(60, 95))} if traits.picture else {}
    return OperatorSite(host=host, name=name, group=group, shares=shares,
                        favicon=traits.favicon, pages={"/": page}, images=images)


def _jpeg(picture: bytes, quality: int) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(picture)).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def operator_world(seed: int = 16, sites_per_group: int = 3, decoys: int = 4,
                   kinds: tuple[str, ...] = GROUP_KINDS,
                   onion: Callable[[str], str] | None = None) -> list[OperatorSite]:
    """One group of ``sites_per_group`` sites per kind, then ``decoys`` decoys.

    ``onion`` names each site's address from its name (a world that publishes the sites
    gives the hostname of the service key it made for that name); by default addresses are
    drawn from the seed.
    """
    rng = random.Random(seed)
    planter = Planter(rng)
    sites: list[OperatorSite] = []
    for kind in kinds:
        shared = _Traits(
            analytics=f"G-{rng.randrange(16**10):010X}" if kind == "analytics" else "",
            favicon=_icon(rng) if kind == "favicon" else b"",
            pgp_block=planter.pgp_block(f"Vendor{rng.randrange(1000)}")[0]
            if kind == "pgp" else "",
            template=kind == "template",
            phone=planter.phone("GB", international=True)[0] if kind == "contact" else "",
            email=planter.email() if kind == "contact" else "",
            picture=planter.image() if kind == "image" else b"",
        )
        for i in range(sites_per_group):
            # Everything a group does not share is each site's own.
            own = replace(shared, favicon=shared.favicon or _icon(rng),
                          picture=shared.picture or planter.image())
            name = f"{kind.title()} Store {i + 1}"
            sites.append(_site(planter, rng, name, kind, kind, own,
                               host=onion(name) if onion else None))
    for i in range(decoys):
        traits = _Traits(analytics=COMMON_ANALYTICS, favicon=STOCK_FAVICON, pgp_block="",
                         template=False, phone="", email="", picture=planter.image())
        name = f"Corner Market {i + 1}"
        sites.append(_site(planter, rng, name, "", "", traits,
                           host=onion(name) if onion else None))
    return sites


def relaunched(site: OperatorSite, seed: int = 61) -> OperatorSite:
    """``site`` re-served under a new onion: same favicon, PGP key and template."""
    planter = Planter(random.Random(seed))
    return replace(site, host=planter.onion())


def relaunch_pair(seed: int = 16) -> tuple[OperatorSite, OperatorSite]:
    """A site carrying a favicon, a PGP key and template text, and its relaunch."""
    rng = random.Random(seed * 7 + 1)
    planter = Planter(rng)
    traits = _Traits(analytics="", favicon=_icon(rng),
                     pgp_block=planter.pgp_block("Relaunch")[0], template=True,
                     phone="", email="")
    old = _site(planter, rng, "Harbour Goods", "relaunch", "relaunch", traits)
    return old, relaunched(old, seed=seed * 7 + 2)
