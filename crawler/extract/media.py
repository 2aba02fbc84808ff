"""Hashes of one media body, computed in memory: MD5, SHA-1, SHA-256; PDQ or vPDQ.

Every body gets MD5, SHA-1 and SHA-256. Its kind (``image``, ``video`` or ``other``) comes
from the content type, else from the body's signature. An image gets PDQ with its quality
and 8 dihedral hashes (:mod:`crawler.extract.pdq`; None when Pillow cannot decode it;
decompression bombs are refused by Pillow's pixel limit); a video gets vPDQ, one PDQ hash a
second (:mod:`crawler.extract.video`), its duration, and an error text when it does not
decode. An image's EXIF camera, serial and GPS position are read as pivots
(:func:`crawler.extract.pivots.exif_pivots`; ``exif_error`` when its EXIF block is broken).
Over the size cap only the prefix is hashed and the result is ``truncated``
(``size`` is then the prefix's length). The bytes are never written anywhere: Pillow and
PyAV decode from a BytesIO. Reads no settings itself: the caller passes the cap
(``crawler.max_media_bytes``) and the video limits (``crawler.video_max_*``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from typing import Literal

from crawler.extract.pdq import MAX_IMAGE_PIXELS, pdq_dihedral_of_image, pdq_of_image
from crawler.extract.pivots import ExifPivots, PivotError, exif_pivots
from crawler.extract.video import VideoLimits, looks_like_video, vpdq_of_video

log = logging.getLogger(__name__)
# pdq_of_image and the pixel limit moved to crawler.extract.pdq; still importable from here.
__all__ = ["MAX_IMAGE_PIXELS", "MediaHashes", "MediaKind", "hash_media", "media_kind",
           "pdq_of_image"]

MediaKind = Literal["image", "video", "other"]

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM")


@dataclass(frozen=True)
class MediaHashes:
    md5: str
    sha1: str
    sha256: str
    size: int
    pdq: str | None = None
    pdq_quality: int | None = None
    pdq_dihedral: list[str] | None = None  # crawler.extract.pdq.PDQ_TRANSFORMS order
    kind: MediaKind = "other"
    truncated: bool = False
    vpdq: list[dict] | None = None  # {"t": seconds, "pdq": hex, "q": quality}, 1 a second
    duration_s: float | None = None
    error: str | None = None
    exif: ExifPivots | None = None  # images only
    exif_error: str | None = None

    def to_dict(self) -> dict:
        """The hashes (the EXIF pivots are the page's, not the file's hashes)."""
        data = asdict(self)
        del data["exif"], data["exif_error"]
        return data


def _looks_like_image(body: bytes, content_type: str) -> bool:
    if content_type.lower().startswith("image/"):
        return True
    return body.startswith(_IMAGE_MAGIC)


def media_kind(body: bytes, content_type: str = "") -> MediaKind:
    """``image`` or ``video`` by content type, else by signature; ``other`` otherwise."""
    ctype = content_type.lower()
    if ctype.startswith("image/"):
        return "image"
    if ctype.startswith("video/"):
        return "video"
    # Video first: an AVI is a RIFF file, as a WebP image is.
    if looks_like_video(body):
        return "video"
    return "image" if _looks_like_image(body, "") else "other"


def hash_media(body: bytes, content_type: str = "", *, max_bytes: int | None = None,
               video: VideoLimits | None = None) -> MediaHashes:
    """Every hash of ``body`` (see the module docstring); at most ``max_bytes`` are hashed."""
    truncated = max_bytes is not None and len(body) > max_bytes
    if truncated:
        body = body[:max_bytes]
    kind = media_kind(body, content_type)
    pdq = pdq_dihedral_of_image(body) if kind == "image" else None
    exif, exif_error = _exif(body) if kind == "image" else (None, None)
    clip = vpdq_of_video(body, video or VideoLimits()) if kind == "video" else None
    return MediaHashes(
        md5=hashlib.md5(body).hexdigest(),
        sha1=hashlib.sha1(body).hexdigest(),
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        pdq=pdq[0][0] if pdq else None,
        pdq_quality=pdq[1] if pdq else None,
        pdq_dihedral=pdq[0] if pdq else None,
        kind=kind,
        truncated=truncated,
        vpdq=(clip.frames or None) if clip else None,
        duration_s=clip.duration_s if clip else None,
        error=clip.error if clip else None,
        exif=exif,
        exif_error=exif_error,
    )


def _exif(body: bytes) -> tuple[ExifPivots | None, str | None]:
    try:
        return exif_pivots(body), None
    except PivotError as exc:
        return None, str(exc)
