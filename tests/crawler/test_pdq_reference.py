"""Our PDQ and dihedral PDQ hashes against Meta's published reference values (bridge photos).

Origin and licence of the images: tests/data/pdq-reference/README.md.
"""

from __future__ import annotations

from pathlib import Path

from crawler.extract.media import hash_media
from crawler.extract.pdq import (
    PDQ_TRANSFORMS,
    pdq_dihedral_of_image,
    pdq_of_image,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "pdq-reference"
# Meta's reference C++ tool on the 8 bridge images (pdq/cpp/bin/README.md), one per transform.
REFERENCE = {
    "original": "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22",
    "rot90": "b0a10efd71cc3f429413d48d0ffffe12e34e0e17ada952a9d29684210aa9e5af",
    "rot180": "adad5a64b5a142e55362a09057dacd5ae63b847fc23794b766b319361fc93188",
    "rot270": "a5f4a457a48995e8c9065c275aaa5498b61ba4bdf8fcf80387c32f8b0bfc4f05",
    "flipX": "f8f80f31e0f417b00e37f5cd028f980fb36ed02a9662c1e233e6cc634e9c64dd",
    "flipY": "8dad2599b1a1bd1853625f6553da32a1e63b7280c2374b4866b366c91bc9ce77",
    "flipPlus1": "f0a1f102f1dcc0bd9c5309720fff018de34ef1e8ada9a956d2967ade0ea91a50",
    "flipMinus1": "a5f05ba8a4896a17c106a3da5aaaab07b61b5b42f8fc07fc83c3d0740bfcb0fa",
}
# The tolerance Meta's Python port is tested with against the same values.
TOLERANCE = 16
# PDQ's usual match threshold: the other transforms must be well beyond it.
MATCH_DISTANCE = 31


def bits(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_transform_names_follow_the_reference_order() -> None:
    assert PDQ_TRANSFORMS == tuple(REFERENCE)


def test_dihedral_hashes_of_the_original_match_the_reference_values() -> None:
    found = pdq_dihedral_of_image((DATA / "bridge-1-original.jpg").read_bytes())
    assert found is not None
    hashes, quality = found
    assert quality == 100
    assert len(hashes) == len(PDQ_TRANSFORMS)
    differences = {
        name: bits(ours, REFERENCE[name]) for name, ours in zip(PDQ_TRANSFORMS, hashes, strict=True)
    }
    largest = max(differences.values())
    print(f"largest bit difference from Meta's reference dihedral hashes: {largest} of 256 "
          f"(tolerance {TOLERANCE}): {differences}")
    assert largest <= TOLERANCE, differences
    # Each transform is told apart from the others: none of them would match it.
    for name, ours in zip(PDQ_TRANSFORMS, hashes, strict=True):
        others = [bits(ours, ref) for other, ref in REFERENCE.items() if other != name]
        assert min(others) > 2 * MATCH_DISTANCE, (name, others)


def test_a_rotated_file_hashes_like_the_rotation_of_the_original() -> None:
    rotated = pdq_of_image((DATA / "bridge-2-rotate-90.jpg").read_bytes())
    assert rotated is not None
    difference = bits(rotated[0], REFERENCE["rot90"])
    print(f"bridge-2-rotate-90.jpg: {difference} bits from the reference")
    assert difference <= TOLERANCE
    original = pdq_dihedral_of_image((DATA / "bridge-1-original.jpg").read_bytes())
    assert original is not None
    near = {name: bits(rotated[0], h) for name, h in zip(PDQ_TRANSFORMS, original[0], strict=True)}
    assert min(near, key=near.__getitem__) == "rot90"
    assert near["rot90"] <= TOLERANCE < near["original"]


def test_media_hashes_carry_the_dihedral_hashes() -> None:
    body = (DATA / "bridge-1-original.jpg").read_bytes()
    hashes = hash_media(body, "image/jpeg")
    assert hashes.pdq_dihedral is not None and len(hashes.pdq_dihedral) == 8
    assert hashes.pdq == hashes.pdq_dihedral[0] == pdq_of_image(body)[0]  # type: ignore[index]
    assert hash_media(b"<html></html>", "text/html").pdq_dihedral is None
    assert pdq_dihedral_of_image(b"\x89PNG\r\n\x1a\n garbage") is None


def test_a_small_turned_or_mirrored_image_matches_one_dihedral_hash_exactly() -> None:
    # Small geometric pictures are where the reference's DCT-sign shortcut drifts 20-60 bits.
    import io

    import numpy as np
    from PIL import Image, ImageDraw

    from crawler.extract.pdq import pdq_dihedral_of_image, pdq_of_image

    rng = np.random.default_rng(5)
    for width, height in [(256, 192), (255, 191), (120, 300)]:
        picture = Image.new("RGB", (width, height), (200, 200, 200))
        draw = ImageDraw.Draw(picture)
        for _ in range(12):
            x, y, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(
                rng.integers(5, 60))
            draw.ellipse([x, y, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))

        def png(image: Image.Image) -> bytes:
            out = io.BytesIO()
            image.save(out, "PNG")
            return out.getvalue()

        original = pdq_of_image(png(picture))
        assert original is not None
        for op in Image.Transpose:
            turned = pdq_dihedral_of_image(png(picture.transpose(op)))
            assert turned is not None
            assert min(bits(h, original[0]) for h in turned[0]) == 0, (width, height, op)
