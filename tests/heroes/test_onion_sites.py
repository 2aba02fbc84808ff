"""Generated onion sites: deterministic, well-formed, and their ground truth is exactly what
``extract_page`` finds on every page (valid entities found, broken ones not)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from crawler.extract.entities import ENTITY_KEYS
from crawler.extract.media import hash_media
from crawler.extract.page import extract_page
from heroes.lab.onion_sites import KEY_SUFFIX, SERVICES, generate_sites
from identifiers.onion import is_valid_onion

LAB_MAGNETS = [
    "magnet:?xt=urn:btih:" + "1f" * 20 + "&dn=lab-one&tr=http://127.0.0.1:6969/announce",
    "magnet:?xt=urn:btmh:1220" + "2e" * 32 + "&dn=lab-two",
]
BIG = 25


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sites")
    return out, generate_sites(out, seed=7, magnets=LAB_MAGNETS, big_site_pages=BIG)


def _files(root: Path) -> dict[str, bytes]:
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in paths}


def test_same_seed_same_bytes_other_seed_other_hosts(sites, tmp_path):
    out, truth = sites
    again = generate_sites(tmp_path / "a", seed=7, magnets=LAB_MAGNETS, big_site_pages=BIG)
    assert json.dumps(again, sort_keys=True) == json.dumps(truth, sort_keys=True)
    assert _files(tmp_path / "a") == _files(out)
    other = generate_sites(tmp_path / "b", seed=8)
    assert other["services"]["forum"]["onion"] != truth["services"]["forum"]["onion"]
    assert "bigsite" not in other["services"]


def test_layout_services_and_keys(sites):
    out, truth = sites
    assert set(truth["services"]) == {*SERVICES, "bigsite"}
    assert {d.name for d in out.iterdir() if d.is_dir()} == set(truth["services"])
    for name, info in truth["services"].items():
        assert is_valid_onion(info["onion"])
        key = (out / f"{name}{KEY_SUFFIX}").read_bytes()
        assert key.startswith(b"== ed25519v1-secret: type0 ==\x00\x00\x00") and len(key) == 96
        assert not list((out / name).rglob("*secret*")), "keys must not be served"
        assert (out / name / "index.html").is_file()
    assert len(truth["services"]["bigsite"]["pages"]) == BIG + 1
    assert truth["seed_url"] == f"http://{truth['services']['directory']['onion']}/"


def test_reachability(sites):
    _, truth = sites
    reachable = set(truth["reachable_pages"])
    assert truth["seed_url"] in reachable
    unreachable = [u for u in truth["pages"] if u not in reachable]
    assert len(unreachable) == 1 and unreachable[0].endswith("/unlisted-7.html")
    for name, info in truth["services"].items():
        assert f"http://{info['onion']}/" in reachable, name
    for url in truth["hostile"]:
        assert url not in truth["pages"]


def test_every_page_extracts_to_its_ground_truth(sites):
    out, truth = sites
    for url, info in truth["pages"].items():
        page = extract_page(url, (out / info["file"]).read_bytes())
        for kind in ENTITY_KEYS:
            assert sorted(page.entities[kind]) == info["entities"][kind], (url, kind)
        assert sorted(page.links) == sorted(info["links"]), url
        assert list(page.media_urls) == info["media"], url
        assert page.title == info["title"], url
        if info["lang"]:
            assert page.lang == info["lang"], url


def test_planted_counts_and_invalid_values_never_found(sites):
    out, truth = sites
    counts = {k: len(v) for k, v in truth["entities"].items()}
    assert all(counts[k] >= 3 for k in ENTITY_KEYS), counts
    assert all(truth["invalid"][k] for k in ("onions", "emails", "btc", "xmr", "eth", "pgp",
                                             "phones", "magnets")), truth["invalid"]
    found: dict[str, set[str]] = {k: set() for k in ENTITY_KEYS}
    for url, info in truth["pages"].items():
        for kind, values in extract_page(url, (out / info["file"]).read_bytes()).entities.items():
            found[kind].update(values)
    for kind in ENTITY_KEYS:
        assert sorted(found[kind]) == truth["entities"][kind], kind
    for kind in ("onions", "btc", "xmr", "eth", "emails"):
        for bad in truth["invalid"][kind]:
            assert bad not in found[kind] and bad.lower() not in found[kind], (kind, bad)
    for magnet in LAB_MAGNETS:
        assert magnet in truth["reachable_entities"]["magnets"]
    assert "2e" * 32 in truth["reachable_entities"]["infohashes"]
    assert set(truth["dead_onions"]) <= set(truth["entities"]["onions"])


def test_media_hashes_and_flagged(sites):
    out, truth = sites
    assert len(truth["flagged_media"]) >= 2
    assert any(m["url"].endswith(".jpg") for m in truth["flagged_media"])
    for url, info in truth["media"].items():
        service = next(n for n, s in truth["services"].items() if f"//{s['onion']}/" in url)
        body = (out / service / url.split(".onion/", 1)[1]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == info["sha256"]
        perceptual = "vpdq" if info.get("kind") == "video" else "pdq"
        assert getattr(hash_media(body), perceptual) == info[perceptual]
        assert info[perceptual] is not None


def test_hostile_markers_and_pages(sites):
    out, truth = sites
    kinds = sorted(spec["kind"] for spec in truth["hostile"].values())
    assert kinds == ["gzip_bomb", "huge", "redirect", "redirect", "redirect"]
    locations = {spec.get("location") for spec in truth["hostile"].values()}
    assert truth["clearnet_urls"][0] in locations
    for url in truth["hostile"]:
        path = url.split(".onion/", 1)[1]
        assert json.loads((out / "board" / f"{path}.hostile.json").read_text())
    board = out / "board"
    assert b"\xc3\x28" in (board / "broken-utf8.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        (board / "legacy-cp1251.html").read_bytes().decode("utf-8")
    assert b"<title>&lt;script&gt;" in (board / "script-title.html").read_bytes()


def test_text_is_innocuous(sites):
    out, _ = sites
    vocabulary = b" ".join(p.read_bytes().lower() for p in out.rglob("*.html"))
    for word in (b"drug", b"weapon", b"abuse", b"child"):
        assert word not in vocabulary


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="names no valid"):
        generate_sites(tmp_path, magnets=["magnet:?xt=urn:btih:1234"])
    with pytest.raises(ValueError, match="big_site_pages"):
        generate_sites(tmp_path, big_site_pages=-1)


def test_regenerating_replaces_old_services(tmp_path):
    generate_sites(tmp_path, big_site_pages=3)
    generate_sites(tmp_path)
    assert not (tmp_path / "bigsite").exists()
    assert not (tmp_path / f"bigsite{KEY_SUFFIX}").exists()


def _ed25519_public_from_scalar(scalar: int) -> bytes:
    """scalar * B on edwards25519 in affine coordinates (slow, test-only, RFC 8032 constants)."""
    p = 2**255 - 19
    d = -121665 * pow(121666, p - 2, p) % p
    base = (15112221349535400772501151409588531511454012693041857206046113283949847762202,
            46316835694926478169428394003475163141307993866256225615783033603165251855960)

    def add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        (x1, y1), (x2, y2) = a, b
        t = d * x1 * x2 * y1 * y2 % p
        return ((x1 * y2 + x2 * y1) * pow(1 + t, p - 2, p) % p,
                (y1 * y2 + x1 * x2) * pow(1 - t, p - 2, p) % p)

    result, addend = (0, 1), base
    while scalar:
        if scalar & 1:
            result = add(result, addend)
        addend = add(addend, addend)
        scalar >>= 1
    x, y = result
    return (y | (x & 1) << 255).to_bytes(32, "little")


def test_key_files_hold_the_keys_of_the_hostnames(sites):
    """Tor derives the hostname from the expanded secret key: check that it is ours."""
    import base64

    out, truth = sites
    for name in ("directory", "market"):
        expanded = (out / f"{name}{KEY_SUFFIX}").read_bytes()[32:]
        public = _ed25519_public_from_scalar(int.from_bytes(expanded[:32], "little"))
        label = truth["services"][name]["onion"].removesuffix(".onion")
        assert base64.b32decode(label.upper())[:32] == public
