"""Generated onion sites with their ground truth, for the crawler's end-to-end tests.

``generate_sites(out_dir, seed)`` writes one directory of static files per service — a link
``directory`` (the crawl seed), a ``forum``, a ``market``, a ``paste`` site and a small
``board`` (plus ``bigsite`` with N pages when asked) — and returns the ground truth. The
same seed gives the same bytes. The pages are written by :mod:`heroes.lab.site_services`
through :mod:`heroes.lab.site_pages`; planted values come from :mod:`heroes.lab.site_entities`.

Hostnames: each service gets a deterministic onion key, written beside its directory as
``<out_dir>/<service>.hs_ed25519_secret_key`` (Tor's file format; not inside the served
directory). A Tor onion service started with that key has exactly the hostname the pages
link to, so pages carry real absolute links and the ground truth is concrete.

What is planted (counts in the ground truth): links within and across services, to dead
onions (valid checksum, no service), to a clearnet canary URL and a clearnet name; valid and
broken onion addresses, e-mails, Bitcoin base58 and bech32/bech32m, Monero standard,
integrated and subaddresses, Ethereum EIP-55, PGP public key blocks, phone numbers in US, GB,
DE and FR national and international formats, magnet links (the given lab-swarm ones and
synthetic v1 hex/base32, v2 and hybrid); PNG and JPEG images and generated MP4 videos
(:mod:`heroes.lab.videos`), some "flagged" (their hashes are listed so a lab hash list can
be made). Hostile pages that need no server logic are
files (a windows-1251 page, a latin-1 page without charset, broken UTF-8, a ``<script>``
title); those that do are marker files ``<path>.hostile.json`` (``{"kind": "gzip_bomb"|
"huge"|"redirect", ...}``) that :mod:`heroes.lab.http_sites` turns into responses: a gzip
bomb, a 50 MB page, a redirect loop and a redirect to the canary. Reads no settings.

Ground truth (JSON-able dict): ``seed_url``; ``services`` (name -> onion, pages, dir);
``pages`` (url -> service, path, title, lang, links, media, entities, reachable);
``videos`` (lab video variant -> url; its ``media`` entry has ``kind`` video and ``vpdq``);
``reachable_pages`` (from the seed by links); ``entities`` and ``reachable_entities`` (type
-> sorted valid values); ``invalid`` (type -> the broken values planted); ``media`` (url ->
hashes, flagged); ``flagged_media``; ``dead_onions``; ``clearnet_urls``; ``hostile``.
"""

from __future__ import annotations

import shutil
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from crawler.extract.entities import ENTITY_KEYS
from heroes.lab.site_pages import SitePage, SiteWorld
from heroes.lab.site_services import (
    BIG_SERVICE,
    CLEARNET_NAME_URL,
    SERVICES,
    build_big,
    build_board,
    build_directory,
    build_forum,
    build_market,
    build_paste,
)
from identifiers import get as identifier_type

DEFAULT_CANARY_URL = "http://127.0.0.1:9/canary"
KEY_SUFFIX = ".hs_ed25519_secret_key"
__all__ = ["BIG_SERVICE", "DEFAULT_CANARY_URL", "KEY_SUFFIX", "SERVICES", "generate_sites"]


def _broken_utf8(page: SitePage) -> bytes:
    return page.render().replace(b"<p>ok</p>", b"<p>ok \xc3\x28 \xff\xfe</p>")


def _reachable(w: SiteWorld, seed_url: str) -> list[str]:
    by_url = {page.url: page for page in w.pages}
    seen = {seed_url}
    queue = deque([seed_url])
    while queue:
        for link in by_url[queue.popleft()].links:
            if link in by_url and link not in seen:
                seen.add(link)
                queue.append(link)
    return [page.url for page in w.pages if page.url in seen]


def _union(pages: Sequence[SitePage]) -> dict[str, list[str]]:
    return {key: sorted(set().union(*(p.entities[key] for p in pages))) for key in ENTITY_KEYS}


def generate_sites(out_dir: Path, seed: int = 1, magnets: Sequence[str] = (),
                   big_site_pages: int = 0, *, canary_url: str = DEFAULT_CANARY_URL) -> dict:
    """Write the services under ``out_dir`` (replacing earlier ones) and return the ground
    truth. ``magnets`` (the lab swarm's) are planted on market and paste pages; a magnet
    that names no valid infohash is a ValueError."""
    for uri in magnets:
        if not identifier_type("magnet").is_valid(uri):
            raise ValueError(f"magnet {uri!r} names no valid BitTorrent infohash")
    if big_site_pages < 0:
        raise ValueError(f"big_site_pages must be >= 0, not {big_site_pages!r}")
    services = (*SERVICES, BIG_SERVICE) if big_site_pages else SERVICES
    w = SiteWorld(seed, canary_url, services)
    build_directory(w, services)
    build_forum(w)
    build_market(w, magnets)
    build_paste(w, magnets)
    build_board(w)
    if big_site_pages:
        build_big(w, big_site_pages)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*SERVICES, BIG_SERVICE):
        if (out_dir / name).is_dir():
            shutil.rmtree(out_dir / name)
        (out_dir / f"{name}{KEY_SUFFIX}").unlink(missing_ok=True)
    for name in services:
        (out_dir / name).mkdir()
        key_file = out_dir / f"{name}{KEY_SUFFIX}"
        key_file.write_bytes(w.keys[name].secret_file)
        key_file.chmod(0o600)
    page_files: dict[str, str] = {}
    for page in w.pages:
        rel = page.path.lstrip("/")
        rel = rel + "index.html" if rel == "" or rel.endswith("/") else rel
        target = out_dir / page.service / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        body = _broken_utf8(page) if page.path == "/broken-utf8.html" else page.render()
        target.write_bytes(body)
        page_files[page.url] = str(target.relative_to(out_dir))
    for (service, rel), data in w.files.items():
        target = out_dir / service / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    seed_url = w.url("directory", "/")
    reachable = _reachable(w, seed_url)
    reachable_set = set(reachable)
    return {
        "seed": seed,
        "seed_url": seed_url,
        "services": {
            name: {"onion": w.hosts[name], "dir": name, "key_file": f"{name}{KEY_SUFFIX}",
                   "pages": [p.url for p in w.pages if p.service == name]}
            for name in services
        },
        "pages": {
            p.url: {"service": p.service, "path": p.path, "file": page_files[p.url],
                    "title": p.title, "lang": p.lang, "links": p.links, "media": p.media,
                    "entities": {k: sorted(v) for k, v in p.entities.items()},
                    "reachable": p.url in reachable_set}
            for p in w.pages
        },
        "reachable_pages": reachable,
        "entities": _union(w.pages),
        "reachable_entities": _union([p for p in w.pages if p.url in reachable_set]),
        "invalid": {k: sorted(v) for k, v in w.invalid.items()},
        "media": w.media,
        "flagged_media": [{"url": url, **h} for url, h in w.media.items() if h["flagged"]],
        "videos": w.videos,
        "dead_onions": w.dead_onions,
        "clearnet_urls": [canary_url, CLEARNET_NAME_URL],
        "hostile": w.hostile,
    }
