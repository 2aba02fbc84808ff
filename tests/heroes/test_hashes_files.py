"""``heroes hashes compute|add|check``: local files hashed as the crawler does, listed, tested."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from crawler.extract.media import hash_media
from crawler.extract.pdq import PDQ_TRANSFORMS
from heroes.cli import main
from index.hashsets.membership import MembershipStore, membership_path

BRIDGE = Path(__file__).resolve().parents[1] / "data" / "pdq-reference" / "bridge-1-original.jpg"


def run(data: Path, *args: str) -> object:
    return CliRunner().invoke(main, ["--data-dir", str(data), "hashes", *args])


def pattern(path: Path, seed: int) -> Path:
    """A synthetic PNG: bands and blocks, different for each seed."""
    img = Image.new("RGB", (96, 64), "white")
    for x in range(96):
        for y in range(64):
            if ((x * (seed + 2)) // 16 + (y * (seed + 1)) // 8) % 2:
                img.putpixel((x, y), (30 * seed % 255, 200, 40))
    out = io.BytesIO()
    img.save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def test_compute_prints_the_crawlers_hashes(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("generic market text\n")
    result = run(tmp_path / "data", "compute", "--json", str(BRIDGE), str(other))
    assert result.exit_code == 0, result.output
    image, text = json.loads(result.stdout)
    expected = hash_media(BRIDGE.read_bytes(), "image/jpeg").to_dict()
    assert {k: image[k] for k in expected} == expected
    assert image["file"] == str(BRIDGE) and image["kind"] == "image"
    assert len(image["pdq_dihedral"]) == len(PDQ_TRANSFORMS)
    assert image["pdq_dihedral"][0] == image["pdq"] and image["pdq_quality"] == 100
    assert text["pdq"] is None and text["pdq_dihedral"] is None and text["kind"] == "other"
    assert text["sha256"] == hash_media(other.read_bytes()).sha256
    plain = run(tmp_path / "data", "compute", str(BRIDGE))
    assert f"pdq      {image['pdq']}  quality 100" in plain.stdout
    assert f"pdq.rot90       {image['pdq_dihedral'][1]}" in plain.stdout


def test_compute_refuses_a_missing_file(tmp_path: Path) -> None:
    result = run(tmp_path / "data", "compute", str(tmp_path / "nope.jpg"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_add_then_check_exit_like_grep(tmp_path: Path) -> None:
    data = tmp_path / "data"
    flagged = pattern(tmp_path / "flagged.png", 1)
    unrelated = pattern(tmp_path / "unrelated.png", 5)
    added = run(data, "add", "--list", "lab-images", "--category", "test", str(flagged))
    assert added.exit_code == 0, added.output
    assert "list lab-images: 1 files, 4 values added or changed, 0 unchanged" in added.stdout
    again = run(data, "add", "--list", "lab-images", "--category", "test", str(flagged))
    assert "0 values added or changed, 4 unchanged" in again.stdout
    members = MembershipStore(membership_path(data))
    try:
        hashes = hash_media(flagged.read_bytes(), "image/png")
        for type_name in ("md5", "sha1", "sha256", "pdq"):
            (entry,) = members.lookup(type_name, getattr(hashes, type_name))
            assert (entry.list, entry.entry, entry.category) == (
                "lab-images", "flagged.png", "test")
    finally:
        members.close()

    hit = run(data, "check", "--json", str(flagged), str(unrelated))
    assert hit.exit_code == 0, hit.output
    first, second = json.loads(hit.stdout)
    assert {m["type"] for m in first["hits"]} == {"md5", "sha1", "sha256", "pdq"}
    assert {m["list"] for m in first["hits"]} == {"lab-images"}
    assert next(m for m in first["hits"] if m["type"] == "pdq")["distance"] == 0
    assert second["hits"] == []
    miss = run(data, "check", str(unrelated))
    assert miss.exit_code == 1 and f"{unrelated}: no hit" in miss.stdout


def test_check_finds_a_turned_image_and_says_how(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "add", "--list", "bridge", str(BRIDGE)).exit_code == 0
    turned = tmp_path / "turned.png"
    with Image.open(BRIDGE) as img:
        img.transpose(Image.Transpose.ROTATE_90).save(turned)
    result = run(data, "check", str(turned))
    assert result.exit_code == 0, result.output
    assert "bridge (pdq, distance" in result.stdout
    # Turned back by the complementary rotation, the candidate is the flagged original.
    assert "as rot270" in result.stdout


def test_check_of_a_video_variant(tmp_path: Path) -> None:
    videos = pytest.importorskip("heroes.lab.videos")
    clips = videos.lab_videos(7)
    original = tmp_path / "original.mp4"
    original.write_bytes(clips["original"])
    variant = tmp_path / "reencoded.mp4"
    variant.write_bytes(clips["reencoded"])
    unrelated = tmp_path / "unrelated.mp4"
    unrelated.write_bytes(clips["unrelated"])
    data = tmp_path / "data"
    computed = json.loads(run(data, "compute", "--json", str(original)).stdout)[0]
    assert computed["kind"] == "video" and computed["vpdq"]
    added = run(data, "add", "--list", "lab-videos", str(original))
    assert added.exit_code == 0, added.output
    found = run(data, "check", "--json", str(variant), str(unrelated))
    assert found.exit_code == 0, found.output
    hits, none = json.loads(found.stdout)
    vpdq = [m for m in hits["hits"] if m["type"] == "vpdq"]
    assert vpdq and vpdq[0]["list"] == "lab-videos" and vpdq[0]["query_fraction"] >= 0.8
    assert none["hits"] == []


def test_check_shows_a_hit_a_negative_list_suppresses(tmp_path: Path) -> None:
    data = tmp_path / "data"
    banner = pattern(tmp_path / "banner.png", 2)
    assert run(data, "add", "--list", "lab-images", str(banner)).exit_code == 0
    members = MembershipStore(membership_path(data))
    try:
        members.add_negative("innocuous", "sha256", hash_media(banner.read_bytes()).sha256)
    finally:
        members.close()
    result = run(data, "check", "--json", str(banner))
    assert result.exit_code == 1, result.output  # suppressed hits do not count
    (checked,) = json.loads(result.stdout)
    assert checked["hits"] == []
    assert {(s["list"], s["by"]) for s in checked["suppressed"]} == {("lab-images", "innocuous")}
    plain = run(data, "check", str(banner))
    assert "suppressed by negative list innocuous" in plain.stdout
