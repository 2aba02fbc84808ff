"""Hashes of one media body, computed in memory: MD5, SHA-1, SHA-256, and PDQ for images.

The bytes are never written anywhere: Pillow decodes from a BytesIO. PDQ (``pdqhash``) is a
256-bit perceptual hash, reported as 64 hex digits (bit 0 first, most significant bit of
the first byte) with its quality 0-100; it is None for non-images and for images Pillow
cannot decode. Decompression bombs are refused by Pillow's pixel limit. No settings.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pdqhash
from PIL import Image

log = logging.getLogger(__name__)

# Pillow refuses images above this many pixels (its own default is 89 M with a warning).
MAX_IMAGE_PIXELS = 50_000_000
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM")


@dataclass(frozen=True)
class MediaHashes:
    md5: str
    sha1: str
    sha256: str
    size: int
    pdq: str | None = None
    pdq_quality: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _looks_like_image(body: bytes, content_type: str) -> bool:
    if content_type.lower().startswith("image/"):
        return True
    return body.startswith(_IMAGE_MAGIC)


def pdq_of_image(body: bytes) -> tuple[str, int] | None:
    """(PDQ hex, quality) of an image body, or None when it does not decode as an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(body)) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    return None
                pixels = np.asarray(img.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        log.debug("not a decodable image (%d bytes): %s", len(body), exc)
        return None
    vector, quality = pdqhash.compute(pixels)
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex(), int(quality)


def hash_media(body: bytes, content_type: str = "") -> MediaHashes:
    """Cryptographic hashes of ``body`` and, for images, its PDQ hash and quality."""
    pdq = pdq_of_image(body) if _looks_like_image(body, content_type) else None
    return MediaHashes(
        md5=hashlib.md5(body).hexdigest(),
        sha1=hashlib.sha1(body).hexdigest(),
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        pdq=pdq[0] if pdq else None,
        pdq_quality=pdq[1] if pdq else None,
    )
