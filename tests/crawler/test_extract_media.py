"""``hash_media``: cryptographic hashes always, PDQ for decodable images, nothing written."""

from __future__ import annotations

import builtins
import hashlib
import io
import os
import random

import pytest
from PIL import Image

from crawler.extract.media import hash_media, pdq_of_image
from heroes.lab.site_entities import Planter


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_generated_image_gets_all_hashes(fmt):
    body = Planter(random.Random(5)).image(fmt)
    hashes = hash_media(body, f"image/{fmt.lower()}")
    assert hashes.md5 == hashlib.md5(body).hexdigest()
    assert hashes.sha1 == hashlib.sha1(body).hexdigest()
    assert hashes.sha256 == hashlib.sha256(body).hexdigest()
    assert hashes.size == len(body)
    assert hashes.pdq is not None and len(hashes.pdq) == 64
    int(hashes.pdq, 16)
    assert hashes.pdq_quality is not None and 0 <= hashes.pdq_quality <= 100
    # Without a content type the magic bytes are enough.
    assert hash_media(body).pdq == hashes.pdq


def test_pdq_is_stable_under_recompression():
    body = Planter(random.Random(6)).image("PNG")
    img = Image.open(io.BytesIO(body)).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=70)
    a, b = hash_media(body).pdq, hash_media(out.getvalue()).pdq
    distance = bin(int(a, 16) ^ int(b, 16)).count("1")
    assert distance <= 31


def test_non_images_and_broken_images_have_no_pdq():
    assert hash_media(b"<html></html>", "text/html").pdq is None
    assert hash_media(b"\x89PNG\r\n\x1a\n garbage", "image/png").pdq is None
    assert hash_media(b"", "image/jpeg").pdq_quality is None
    assert pdq_of_image(b"GIF89a") is None


def test_decompression_bomb_refused():
    img = Image.new("1", (12000, 12000))
    out = io.BytesIO()
    img.save(out, "PNG")
    assert hash_media(out.getvalue(), "image/png").pdq is None


def test_no_bytes_written(monkeypatch):
    """Every way to open a file for writing fails loudly while media is hashed."""
    real_open, real_os_open = builtins.open, os.open
    opened: list[str] = []

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            opened.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            opened.append(str(path))
        return real_os_open(path, flags, *args, **kwargs)

    body = Planter(random.Random(7)).image("JPEG")
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    for _ in range(3):
        assert hash_media(body, "image/jpeg").pdq is not None
    assert opened == []
