"""Live on the lab world: the crawler fetches a forum page's two videos through Tor and hashes
them in memory; the one over the size cap has its prefix hashed and is marked truncated."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from tests.crawler.conftest import ROOT, LabWorld, indexed, run_heroes
from tests.crawler.observe import files_holding

pytestmark = pytest.mark.tor


def _body(world: LabWorld, url: str) -> bytes:
    host, path = url.split("/")[2], url.split("/", 3)[3]
    service = next(n for n, s in world.truth["services"].items() if s["onion"] == host)
    return (world.dir / "sites" / service / path).read_bytes()


def test_videos_hashed_live_and_the_big_one_truncated(lab_world: LabWorld,
                                                      tmp_path: Path) -> None:
    small_url = lab_world.truth["videos"]["reencoded"]
    big_url = lab_world.truth["videos"]["unrelated"]
    page_url = next(u for u, p in lab_world.truth["pages"].items() if small_url in p["media"])
    assert big_url in lab_world.truth["pages"][page_url]["media"]
    small, big = _body(lab_world, small_url), _body(lab_world, big_url)
    cap = (len(small) + len(big)) // 2
    assert len(small) < cap < len(big)
    started = time.time()
    # Its own temporary directory: other lab worlds on this machine hold the same videos.
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = run_heroes(lab_world, tmp_path / "data", ["crawl", page_url, "--job", "video", "--json"],
                      HEROES_CRAWLER__MAX_DEPTH="0", HEROES_CRAWLER__MAX_MEDIA_BYTES=str(cap),
                      TMPDIR=str(temp))
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    assert summary["media_hashed"] >= 2
    media = {m["url"]: m for d in indexed(tmp_path / "data", "page") for m in d.get("media", [])}

    whole = media[small_url]
    truth = lab_world.truth["media"][small_url]
    assert whole["kind"] == "video" and not whole["truncated"] and not whole.get("error")
    assert whole["sha256"] == truth["sha256"] == hashlib.sha256(small).hexdigest()
    assert whole["md5"] == truth["md5"] and whole["sha1"] == truth["sha1"]
    assert whole["vpdq"] == truth["vpdq"] and len(whole["vpdq"]) >= 5
    assert whole["duration_s"] == truth["duration_s"]

    cut = media[big_url]
    assert cut["kind"] == "video" and cut["truncated"] is True and cut["size"] == cap
    assert cut["sha256"] == hashlib.sha256(big[:cap]).hexdigest()
    assert cut["sha256"] != lab_world.truth["media"][big_url]["sha256"]
    assert cut["error"].startswith("undecodable video")  # its index is past the cut

    # Neither video, nor the prefix of the big one, is in any file the crawl wrote: in its
    # data and temporary directories, or in its working directory (the checkout).
    blobs = [small, big[1024:cap]]
    hits = files_holding(blobs, (tmp_path / "data", temp, ROOT), started)
    assert not hits, hits
