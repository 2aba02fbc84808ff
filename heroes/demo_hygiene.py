"""The demo's hash-list hygiene and media matching: a turned picture, a video, a negative list.

:func:`hash_lists` adds three lists to the lab's (all values derived from the lab world's
ground truth and its site files, which are synthetic geometric pictures and videos):

* ``lab-turned`` (PDQ): the hash of a lab picture turned (or mirrored), so the lab page
  that shows the picture as it is matches only through the PDQ dihedral hashes, and the
  match says which transform it took;
* ``lab-videos`` (vPDQ): the lab's original video, so every page showing a variant of it
  (re-encoded, cropped, ...) is flagged with the shares of frames and the time ranges;
* ``lab-known-good`` (negative, source and trust set with ``#!`` lines): the SHA-256 of one
  flagged lab picture, as a unit's list of innocuous images would hold a common logo; its
  hit on ``lab-media`` is suppressed and counted, never alerted.

:func:`investigator_lines` shows ``heroes hashes compute`` and ``heroes hashes check`` on
the lab picture (real commands in child processes); :func:`result_lines` what the drain made
of the lists after the crawl. Reads the settings the caller passes.
"""

from __future__ import annotations

import io
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from config import Settings
from crawler.extract.pdq import PDQ_TRANSFORMS, pdq_dihedral_of_image, pdq_of_image
from heroes.demo_config import MEDIA_LIST, TURNED_LIST, VIDEO_LIST, HashList
from identifiers.vpdq import canonical, frames_of
from index.hashsets.membership import MembershipStore, membership_path
from index.store import Store
from query.model import Search, Terms

NEGATIVE_LIST = "lab-known-good"
# Turns and mirrors tried, in this order, for the listed form of the lab picture.
TURNS = (
    ("turned 90 degrees", Image.Transpose.ROTATE_90),
    ("mirrored", Image.Transpose.FLIP_LEFT_RIGHT),
    ("turned and mirrored", Image.Transpose.TRANSPOSE),
)
# The listed form is used only if some dihedral hash of the served picture is this near it
# (PDQ of a small, odd-sized picture is not exactly turn-invariant).
NEAR_BITS = 8
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TurnedPicture:
    url: str
    file: Path
    how: str  # how the listed picture differs from the one the lab page shows
    pdq: str  # PDQ of the listed picture
    transform: str  # the dihedral transform of the served picture expected to match


def _site_file(truth: dict[str, Any], sites_dir: Path, url: str) -> Path:
    parts = urlsplit(url)
    for info in truth["services"].values():
        if info["onion"] == parts.hostname:
            return sites_dir / info["dir"] / parts.path.lstrip("/")
    raise ValueError(f"no lab service serves {url!r}")


def _reachable_media(truth: dict[str, Any]) -> set[str]:
    return {m for p in truth["pages"].values() if p.get("reachable") for m in p["media"]}


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def turned_picture(truth: dict[str, Any], sites_dir: Path) -> TurnedPicture | None:
    """An unflagged lab picture on a reachable page and a turn of it that PDQ sees through."""
    reachable = _reachable_media(truth)
    candidates = sorted(
        (url for url, m in truth["media"].items()
         if m.get("kind", "image") == "image" and not m["flagged"] and url in reachable
         and m.get("pdq")),
        key=lambda url: (-(truth["media"][url].get("pdq_quality") or 0), url))
    for url in candidates:
        path = _site_file(truth, sites_dir, url)
        body = path.read_bytes()
        served = pdq_dihedral_of_image(body)
        if served is None:
            continue
        for how, turn in TURNS:
            picture = Image.open(io.BytesIO(body)).convert("RGB").transpose(turn)
            out = io.BytesIO()
            picture.save(out, "PNG")
            listed = pdq_of_image(out.getvalue())
            if listed is None:
                continue
            distances = [_distance(listed[0], h) for h in served[0]]
            best = min(distances)
            if best <= NEAR_BITS:
                transform = PDQ_TRANSFORMS[distances.index(best)]
                return TurnedPicture(url, path, how, listed[0], transform)
    return None


def known_good_sha256(truth: dict[str, Any]) -> str | None:
    """The SHA-256 of the first flagged lab picture (by URL) on a reachable page."""
    reachable = _reachable_media(truth)
    for url, m in sorted(truth["media"].items()):
        if m["flagged"] and m.get("kind", "image") == "image" and url in reachable:
            return str(m["sha256"])
    return None


def original_video(truth: dict[str, Any]) -> str | None:
    """The vPDQ hash (canonical) of the lab's original video, when the lab serves videos."""
    url = (truth.get("videos") or {}).get("original")
    frames = (truth["media"].get(url) or {}).get("vpdq") if url else None
    return canonical(frames_of(frames)) if frames else None


def hash_lists(truth: dict[str, Any], turned: TurnedPicture | None) -> list[HashList]:
    """The three lists (those the lab world has values for)."""
    lists = []
    if turned is not None:
        lists.append(HashList(TURNED_LIST, "pdq", "lab-image", (turned.pdq,)))
    video = original_video(truth)
    if video:
        lists.append(HashList(VIDEO_LIST, "vpdq", "lab-video", (video,)))
    good = known_good_sha256(truth)
    if good:
        lists.append(HashList(NEGATIVE_LIST, "sha256", "known-good", (good,), settings=(
            ("kind", "negative"), ("source", "lab exchange"), ("trust", "high"))))
    return lists


def _heroes(argv_of: Any, *args: str) -> tuple[str, list[str]]:
    argv = argv_of(*args)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    shown = "heroes " + shlex.join(argv[argv.index("heroes.cli") + 1:])
    lines = (done.stdout + done.stderr).strip().splitlines()
    return f"$ {shown}   (exit {done.returncode})", lines


def investigator_lines(argv_of: Any, turned: TurnedPicture) -> list[str]:
    """``heroes hashes compute`` and ``check`` on the lab picture, as an investigator would."""
    out = [f"the lab picture {turned.url} is on {TURNED_LIST} {turned.how}:"]
    for command in (("hashes", "compute", str(turned.file)), ("hashes", "check", str(turned.file))):
        head, lines = _heroes(argv_of, *command)
        out += [head, *(f"  {line}" for line in lines)]
    return out


def _media_name(source: dict[str, Any], value: str) -> str:
    for media in source.get("media") or []:
        if value in (media.get("sha256"), media.get("url"), media.get("pdq"),
                     *(media.get("pdq_dihedral") or ())):
            return str(media.get("url", "")).rsplit("/", 1)[-1]
    return "?"


def _match_text(m: dict[str, Any]) -> str:
    how = []
    if m.get("transform"):
        how.append(f"as {m['transform']}")
    if m.get("distance") is not None:
        how.append(f"distance {m['distance']}")
    if m.get("query_fraction") is not None:
        ranges = ", ".join(f"{a:g}-{b:g} s" for a, b in m.get("time_ranges") or [])
        how.append(f"{m['query_fraction']:.0%} of the video's frames, "
                   f"{m.get('entry_fraction') or 0:.0%} of the entry's; {ranges}")
    return f"{m['list']} {m['type']} ({'; '.join(how)})"


async def result_lines(settings: Settings) -> list[str]:
    """Pages the turned picture and the video flagged, and the hits the negative list ate."""
    store = Store(settings)
    try:
        found = await store.search(Search(
            "page", query=Terms("matches.list", (TURNED_LIST, VIDEO_LIST)), size=20))
    finally:
        store.close()
    out = []
    for hit in sorted(found["hits"]["hits"], key=lambda h: h["_source"]["url"]):
        source = hit["_source"]
        for m in source.get("matches") or []:
            if m.get("list") in (TURNED_LIST, VIDEO_LIST):
                name = _media_name(source, str(m.get("value", "")))
                out.append(f"{source['url']}: {name} {_match_text(m)}")
    members = MembershipStore(membership_path(settings.data_dir))
    try:
        stats = members.stats()
    finally:
        members.close()
    eaten = stats.get(NEGATIVE_LIST)
    flagged = stats.get(MEDIA_LIST)
    n = eaten.suppressing if eaten else 0
    out.append(f"negative list {NEGATIVE_LIST}: {n} hit{'' if n == 1 else 's'} suppressed "
               f"({MEDIA_LIST}: {flagged.suppressed if flagged else 0} suppressed), "
               "none alerted")
    return out
