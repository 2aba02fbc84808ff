"""The generated services, one builder each: link directory (the seed), forum, market, paste
site, board, and the optional big catalogue for benchmarks. Each builder writes its pages
through ``SitePage`` so the ground truth follows from what is written. Reads no settings.
"""

from __future__ import annotations

from collections.abc import Sequence

from heroes.lab import site_pivots
from heroes.lab.site_pages import FRENCH, GERMAN, WORDS, SiteWorld
from heroes.lab.videos import lab_videos
from identifiers.magnet import parse_magnet

SERVICES = ("directory", "forum", "market", "paste", "board")
BIG_SERVICE = "bigsite"
CLEARNET_NAME_URL = "http://clearnet.example/landing"


def build_directory(w: SiteWorld, services: Sequence[str]) -> None:
    pl = w.planter
    index = w.page("directory", "/", "Onion Link Directory")
    index.p("A hand-picked list of services. Links are checked every week.")
    for name in services:
        if name != "directory":
            index.link(f"http://{w.hosts[name]}/", f"The {name}")
    index.link("/about.html", "About this directory")
    for _ in range(3):
        dead = pl.onion()
        w.dead_onions.append(dead)
        index.link(f"http://{dead}/", "An older service (offline)")
    index.link(w.canary_url, "Clearnet mirror")
    index.link(CLEARNET_NAME_URL, "Clearnet news")
    mentioned = pl.onion()
    w.dead_onions.append(mentioned)
    index.plant("onions", mentioned, f"Also reported, not yet checked: {mentioned}")
    index.plant_invalid("onions", pl.bad_onion())

    about = w.page("directory", "/about.html", "About")
    about.prose(4)
    email = pl.email()
    about.plant("emails", email, f"Submit a link: {email}")
    about.link("mailto:" + pl.email(), "Write to the editors")
    about.link("/", "Back to the list")


def build_forum(w: SiteWorld) -> None:
    pl = w.planter
    index = w.page("forum", "/", "Community Forum")
    index.head_extra = site_pivots.FORUM_SNIPPET
    w.files[("forum", "favicon.ico")] = site_pivots.icon("navy")
    index.prose(2)
    threads = 6
    for i in range(1, threads + 1):
        index.link(f"/thread-{i}.html", f"Thread {i}: {w.rng.choice(WORDS)} questions")
    index.link("/de/willkommen.html", "Deutsch")
    index.link("/fr/bienvenue.html", "Français")
    index.link(f"http://{w.hosts['market']}/", "Our market")
    for i in range(1, threads + 1):
        page = w.page("forum", f"/thread-{i}.html", f"Thread {i}")
        page.prose(3)
        if i % 2:
            email = pl.email()
            page.plant("emails", email, f"Contact me at {email} for details.")
        if i in (1, 4):
            block, fpr = pl.pgp_block(f"Member{i}")
            page.plant("pgp", fpr, block, tag="pre")
        if i == 4:
            clips = lab_videos(w.seed)
            page.video("walkthrough.mp4", clips["reencoded"], "reencoded")
            page.video("unboxing.mp4", clips["unrelated"], "unrelated")
        if i == 2:
            page.plant_invalid("pgp", pl.bad_pgp_block("Broken"), tag="pre")
        if i in (2, 5):
            written, e164 = pl.phone("US")
            page.plant("phones", e164, f"Call the shop on {written} after six.")
            written, e164 = pl.phone("GB")
            page.plant("phones", e164, f"UK line: {written}")
        if i == 3:
            written, e164 = pl.phone("FR", international=True)
            page.plant("phones", e164, f"International: {written}")
            page.plant_invalid("phones", "Order reference 4155552671 was shipped.")
            page.plant_invalid("phones", "Old number +1 555 0100 is no longer in use.")
        if i == 6:
            addr = pl.btc_base58()
            page.plant("btc", addr, f"Tips welcome: {addr}")
        page.link("/", "Forum index")
        page.link(f"/thread-{i % threads + 1}.html", "Next thread")
    de = w.page("forum", "/de/willkommen.html", "Willkommen", lang="de")
    de.p(GERMAN)
    written, e164 = pl.phone("DE")
    de.plant("phones", e164, f"Telefon: {written}")
    de.link("../", "Zurück")
    fr = w.page("forum", "/fr/bienvenue.html", "Bienvenue", lang="fr")
    fr.p(FRENCH)
    written, e164 = pl.phone("FR")
    fr.plant("phones", e164, f"Téléphone : {written}")
    fr.link("/", "Retour")


def build_market(w: SiteWorld, magnets: Sequence[str]) -> None:
    pl = w.planter
    index = w.page("market", "/", "Generic Market")
    index.head_extra = site_pivots.MARKET_HEAD
    w.files[("market", site_pivots.MARKET_ICON_PATH)] = site_pivots.icon("maroon", "square")
    index.prose(2)
    listings = 6
    for i in range(1, listings + 1):
        index.link(f"/listing-{i}.html", f"Listing {i}: {w.rng.choice(WORDS)} pack")
    index.link("/vendor.html", "Vendor profile")
    index.link(f"http://{w.hosts['forum']}/thread-2.html", "Discussion on the forum")
    for i in range(1, listings + 1):
        page = w.page("market", f"/listing-{i}.html", f"Listing {i}")
        page.prose(2)
        page.p(f"Price: {w.rng.randrange(5, 500)} units. Shipping {w.rng.choice(WORDS)}.")
        if i in (1, 4):
            addr = pl.btc_base58()
            page.plant("btc", addr, f"Pay to {addr}")
        if i in (2, 5):
            addr = pl.btc_bech32()
            page.plant("btc", addr, f"Segwit: {addr}")
            page.plant_invalid("btc", pl.bad_btc_bech32())
        if i == 3:
            page.plant_invalid("btc", pl.bad_btc_base58())
            addr = pl.xmr("integrated")
            page.plant("xmr", addr, f"Monero (integrated): {addr}")
        if i in (1, 6):
            addr = pl.xmr("standard" if i == 1 else "subaddress")
            page.plant("xmr", addr, f"Monero: {addr}")
        if i == 4:
            page.plant_invalid("xmr", pl.bad_xmr())
        if i in (2, 3):
            addr = pl.eth()
            page.plant("eth", addr.lower(), f"Ether: {addr}")
        if i == 5:
            addr = pl.eth()
            page.plant("eth", addr.lower(), f"Ether (lower case): {addr.lower()}")
            page.plant_invalid("eth", pl.bad_eth())
        fmt = "JPEG" if i % 2 == 0 else "PNG"
        ext = "jpg" if fmt == "JPEG" else "png"
        page.image(f"item-{i}.{ext}", pl.image(fmt), flagged=i in (2, 3))
        if i <= len(magnets):
            uri = magnets[i - 1]
            page.link(uri, "Sample download")
        page.link("/", "Market index")
        page.link(f"/listing-{i % listings + 1}.html", "Next listing")
    vendor = w.page("market", "/vendor.html", "Vendor Profile")
    vendor.prose(3)
    block, fpr = pl.pgp_block("Vendor")
    vendor.plant("pgp", fpr, block, tag="pre")
    email = pl.email()
    vendor.plant("emails", email, f"Orders: {email}")
    vendor.plant_invalid("emails", "vendor@localhost")
    vendor.plant_invalid("emails", "vendor@@example.com")
    vendor.image("stall.jpg", site_pivots.exif_photo())
    vendor.link("/", "Market index")


def build_paste(w: SiteWorld, magnets: Sequence[str]) -> None:
    pl = w.planter
    index = w.page("paste", "/", "Paste Bin")
    w.files[("paste", "favicon.ico")] = site_pivots.BROKEN_FAVICON
    index.p("Plain text pastes. No accounts, no tracking.")
    index.prose(2)
    pastes = 5
    for i in range(1, pastes + 1):
        index.link(f"/paste-{i}.html", f"Paste {i}")
    index.link(f"http://{w.hosts['board']}/", "Board")
    extra = list(magnets[6:])
    kinds = ["hex", "base32", "v2", "hybrid", "hex"]
    for i in range(1, pastes + 1):
        page = w.page("paste", f"/paste-{i}.html", f"Paste {i}")
        page.prose(1)
        uri, _ = pl.magnet(kinds[i - 1], f"paste-{i}-archive")
        page.link(uri, "Magnet")
        if extra:
            uri = extra.pop()
            page.plant("magnets", uri, tag="pre")
            page.entities["infohashes"].update(parse_magnet(uri).infohashes)
        if i == 2:
            page.plant_invalid("magnets", pl.bad_magnet("broken"), tag="pre")
            page.plant_invalid("onions", pl.bad_onion(), tag="pre")
        if i == 3:
            onion = pl.onion()
            w.dead_onions.append(onion)
            page.plant("onions", onion, f"mirror: {onion}", tag="pre")
            block, fpr = pl.pgp_block("Paster")
            page.plant("pgp", fpr, block, tag="pre")
            page.image("snapshot.jpg", site_pivots.exif_photo(broken=True))
        if i == 4:
            addr = pl.btc_bech32()
            page.plant("btc", addr, addr.upper(), tag="pre")
            addr = pl.btc_base58()
            page.plant("btc", addr, tag="pre")
        page.link("/", "All pastes")
    orphan = w.page("paste", "/unlisted-7.html", "Unlisted paste")
    orphan.prose(1)
    email = pl.email()
    orphan.plant("emails", email, f"Only reachable by its address: {email}")


def build_board(w: SiteWorld) -> None:
    pl = w.planter
    index = w.page("board", "/", "Small Board")
    index.prose(1)
    for i in range(1, 4):
        index.link(f"/post-{i}.html", f"Post {i}")
    for path, title in (("/legacy-cp1251.html", "Old page"), ("/legacy-latin1.html", "Café"),
                        ("/broken-utf8.html", "Broken bytes"), ("/script-title.html", "Odd title")):
        index.link(path, title)
    hostile_links = {
        "/bomb.html": {"kind": "gzip_bomb", "decompressed_bytes": 256 * 1024 * 1024},
        "/huge.html": {"kind": "huge", "bytes": 50 * 1024 * 1024},
        "/loop-a.html": {"kind": "redirect", "status": 302, "location": "/loop-b.html"},
        "/loop-b.html": {"kind": "redirect", "status": 302, "location": "/loop-a.html"},
        "/away.html": {"kind": "redirect", "status": 302, "location": w.canary_url},
    }
    for path, spec in hostile_links.items():
        w.marker("board", path, spec)
        if path != "/loop-b.html":
            index.link(path, f"Archive {path[1:-5]}")
    index.link(f"http://{w.hosts['directory']}/", "Directory")
    for i in range(1, 4):
        post = w.page("board", f"/post-{i}.html", f"Post {i}")
        post.prose(2)
        if i == 1:
            post.image("banner.png", pl.image("PNG"), flagged=True)
            post.image("photo.jpg", pl.image("JPEG"))
        if i == 2:
            written, e164 = pl.phone("DE", international=True)
            post.plant("phones", e164, f"Hotline {written}")
            post.plant_invalid("eth", pl.bad_eth())
        if i == 3:
            clips = lab_videos(w.seed)
            post.video("clip.mp4", clips["original"], "original", flagged=True)
            post.video("clip-short.mp4", clips["cropped"], "cropped")
        post.link("/", "Board")

    cp = w.page("board", "/legacy-cp1251.html", "Старая страница", lang="ru")
    cp.encoding = "windows-1251"
    cp.p("Добро пожаловать на старую страницу форума. Здесь обсуждают доставку и заказы.")
    email = pl.email()
    cp.plant("emails", email, f"Почта: {email}")
    cp.link("/", "Board")
    latin = w.page("board", "/legacy-latin1.html", "Café crème", lang="fr")
    latin.encoding = "none"  # latin-1 bytes, no charset anywhere
    latin.p(FRENCH)
    latin.link("/", "Board")
    broken = w.page("board", "/broken-utf8.html", "Broken bytes", lang="")
    broken.p("ok")
    broken.link("/", "Board")
    script = w.page("board", "/script-title.html", "<script>alert(1)</script>", lang="")
    script.head_extra = "<script>document.title = 'x';</script>"
    script.p("A page whose title is markup.")
    script.link("/", "Board")


def build_big(w: SiteWorld, pages: int) -> None:
    pl = w.planter
    index = w.page(BIG_SERVICE, "/", "Big Catalogue", lang="")
    index.link("/p/1.html", "Start")
    for i in range(1, pages + 1):
        page = w.page(BIG_SERVICE, f"/p/{i}.html", f"Catalogue page {i}")
        page.prose(4)
        if i % 10 == 0:
            email = pl.email()
            page.plant("emails", email, f"Questions: {email}")
            addr = pl.btc_base58()
            page.plant("btc", addr, f"Pay to {addr}")
        for j in (i + 1, 2 * i, 2 * i + 1):
            if j <= pages:
                page.link(f"/p/{j}.html", f"Page {j}")
        page.link("/", "Catalogue")
