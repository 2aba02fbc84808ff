"""PDQ hashes of an image body, computed in memory: the hash, its quality and the 8 dihedral ones.

PDQ (``pdqhash``, Meta's reference algorithm) is a 256-bit perceptual hash, reported as 64
hex digits (bit 0 first, most significant bit of the first byte) with its quality 0-100.
The dihedral hashes are those of the image turned and mirrored, in :data:`PDQ_TRANSFORMS`
order (the order of ``pdqhash.compute_dihedral`` and of Meta's ``--pdqdih`` output), so a
flagged image re-posted rotated or flipped is still found. They are computed by turning the
pixels and hashing each turn, not with the reference's shortcut over the DCT signs: the
shortcut ignores that PDQ's box filter is not symmetric, and on small images (a few hundred
pixels a side) it lands 20-60 bits away from the hash of the turned image, which would miss
at the usual distance of 31. Turning the pixels back is exact (0 bits for a lossless
re-post). Pillow decodes from a BytesIO: the bytes are never written anywhere. None for
bodies that do not decode as an image; decompression bombs are refused by Pillow's pixel
limit. No settings.
"""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np
import pdqhash
from PIL import Image

log = logging.getLogger(__name__)

# Pillow refuses images above this many pixels (its own default is 89 M with a warning).
MAX_IMAGE_PIXELS = 50_000_000

# The eight transforms of the dihedral group, named as Meta's reference tool names them.
PDQ_TRANSFORMS: tuple[str, ...] = (
    "original",
    "rot90",
    "rot180",
    "rot270",
    "flipX",
    "flipY",
    "flipPlus1",
    "flipMinus1",
)


def _pixels(body: bytes) -> np.ndarray | None:
    """RGB pixels of an image body, or None when it does not decode (or is too big)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(body)) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    return None
                return np.asarray(img.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        log.debug("not a decodable image (%d bytes): %s", len(body), exc)
        return None


def _hex(vector: np.ndarray) -> str:
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex()


def pdq_of_pixels(pixels: np.ndarray) -> tuple[str, int]:
    """(PDQ hex, quality) of an (H, W, 3) uint8 RGB array."""
    vector, quality = pdqhash.compute(pixels)
    return _hex(vector), int(quality)


def pdq_of_image(body: bytes) -> tuple[str, int] | None:
    """(PDQ hex, quality) of an image body, or None when it does not decode as an image."""
    pixels = _pixels(body)
    return None if pixels is None else pdq_of_pixels(pixels)


# Each transform as a pixel operation, in PDQ_TRANSFORMS order: rot90 is a quarter turn
# counter-clockwise, flipX mirrors top to bottom, flipY left to right, flipPlus1 swaps the
# axes (transpose), flipMinus1 mirrors across the other diagonal.
_TURNS = (
    lambda a: a,
    lambda a: np.rot90(a, 1),
    lambda a: np.rot90(a, 2),
    lambda a: np.rot90(a, 3),
    np.flipud,
    np.fliplr,
    lambda a: np.swapaxes(a, 0, 1),
    lambda a: np.swapaxes(np.rot90(a, 2), 0, 1),
)


def pdq_dihedral_of_pixels(pixels: np.ndarray) -> tuple[list[str], int]:
    """The 8 PDQ hashes of the image's turns and mirrors (:data:`PDQ_TRANSFORMS` order)."""
    hashes = [pdq_of_pixels(np.ascontiguousarray(turn(pixels))) for turn in _TURNS]
    return [h for h, _ in hashes], hashes[0][1]


def pdq_dihedral_of_image(body: bytes) -> tuple[list[str], int] | None:
    """The 8 dihedral PDQ hashes and the quality of an image body; None when it does not decode.

    The first of the hashes is the plain PDQ hash (:func:`pdq_of_image`).
    """
    pixels = _pixels(body)
    return None if pixels is None else pdq_dihedral_of_pixels(pixels)
