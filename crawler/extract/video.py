"""vPDQ of one video body, computed in memory: the PDQ hash of one frame per second.

PyAV (FFmpeg) demuxes and decodes from a BytesIO; frames live only as arrays while they are
hashed, so neither the video nor a frame is written anywhere. Every frame is decoded (a
codec needs them all), one per second of running time is hashed with
:func:`crawler.extract.pdq.pdq_of_pixels`, and each hashed frame is reported as
``{"t": seconds, "pdq": 64 hex digits, "q": quality 0-100}`` — the frame list vPDQ matches
on. A hostile file cannot eat memory or time: decoding stops after ``max_seconds`` of
running time or ``max_frames`` decoded frames (whatever their rate or timestamps claim), and
a frame larger than :data:`crawler.extract.pdq.MAX_IMAGE_PIXELS` (the image limit) is
refused, from the header when it says so, before a frame is allocated. A body
that does not decode (or stops decoding half way, as a truncated download does) yields the
frames hashed so far and an error text, never an exception. Reads the ``[crawler]``
settings ``video_max_seconds`` and ``video_max_frames`` (through :class:`VideoLimits`).
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field

import av
import av.error

from crawler.extract.pdq import MAX_IMAGE_PIXELS, pdq_of_pixels

log = logging.getLogger(__name__)

# Seconds between two hashed frames (vPDQ's one frame per second).
FRAME_INTERVAL_S = 1.0
# Container signatures: ISO BMFF (MP4/MOV/3GP: "ftyp" at offset 4), Matroska/WebM (EBML),
# AVI and MPEG-PS/TS, FLV, Ogg, ASF/WMV.
_EBML = b"\x1a\x45\xdf\xa3"
_ASF = bytes.fromhex("3026b2758e66cf11")
_VIDEO_MAGIC = (_EBML, b"FLV", b"OggS", b"\x00\x00\x01\xba", _ASF)


@dataclass(frozen=True)
class VideoLimits:
    """How much of one video is decoded: running time, decoded frames at any rate, and the
    frame size (checked on the header before the decoder allocates a frame, and per frame)."""

    max_seconds: float = 600.0
    max_frames: int = 40_000
    max_pixels: int = MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class VpdqResult:
    """Frames hashed (``t``/``pdq``/``q`` dicts), the declared duration and any error."""

    frames: list[dict] = field(default_factory=list)
    duration_s: float | None = None
    error: str | None = None


def looks_like_video(body: bytes, content_type: str = "") -> bool:
    """True for a ``video/*`` content type or a known video container signature."""
    if content_type.lower().startswith("video/"):
        return True
    if body[4:8] == b"ftyp" and body[8:10] not in (b"av", b"he", b"mi"):  # not AVIF/HEIF
        return True
    if body.startswith(b"RIFF") and body[8:12] == b"AVI ":
        return True
    return body.startswith(_VIDEO_MAGIC) or (len(body) > 188 and body[0] == body[188] == 0x47)


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base), 3)
    if container.duration is not None:
        return round(container.duration / av.time_base, 3)
    return None


def vpdq_of_video(body: bytes, limits: VideoLimits = VideoLimits()) -> VpdqResult:
    """The vPDQ frames of a video body (see the module docstring); never raises on bad input."""
    frames: list[dict] = []
    duration: float | None = None
    try:
        with av.open(io.BytesIO(body), mode="r") as container:
            if not container.streams.video:
                return VpdqResult(error="no video stream")
            stream = container.streams.video[0]
            duration = _duration(container, stream)
            if stream.width * stream.height > limits.max_pixels:
                return VpdqResult(frames, duration,
                                  f"frame too large: {stream.width}x{stream.height}")
            rate = float(stream.average_rate) if stream.average_rate else 1.0
            next_t = 0.0
            origin: float | None = None
            for decoded, frame in enumerate(container.decode(stream)):
                if decoded >= limits.max_frames:
                    return VpdqResult(frames, duration,
                                      f"decode stopped after {limits.max_frames} frames")
                # Times count from the first frame (an MPEG-TS stream may start at 10 000 s);
                # a frame without a timestamp is placed by its index and the stream's rate.
                if frame.time is None:
                    t = decoded / rate
                else:
                    origin = frame.time if origin is None else origin
                    t = frame.time - origin
                if t > limits.max_seconds:
                    return VpdqResult(frames, duration,
                                      f"decode stopped at {limits.max_seconds:g} s")
                if t + 1e-6 < next_t:
                    continue
                if frame.width * frame.height > limits.max_pixels:
                    return VpdqResult(frames, duration,
                                      f"frame too large: {frame.width}x{frame.height}")
                pdq, quality = pdq_of_pixels(frame.to_ndarray(format="rgb24"))
                frames.append({"t": round(max(t, 0.0), 3), "pdq": pdq, "q": quality})
                # The next sample is the first frame of the next whole interval.
                next_t = (math.floor(max(t, 0.0) / FRAME_INTERVAL_S) + 1) * FRAME_INTERVAL_S
    except (av.error.FFmpegError, ValueError, OSError, EOFError) as exc:
        log.debug("video decode failed (%d bytes): %s", len(body), exc)
        # FFmpeg's own text, without the errno and the "<none>" file name PyAV adds.
        reason = getattr(exc, "strerror", None) or str(exc)
        error = f"undecodable video: {type(exc).__name__}: {reason[:200]}"
        return VpdqResult(frames, duration, error)
    if not frames:
        return VpdqResult(frames, duration, "undecodable video: no frame decoded")
    return VpdqResult(frames, duration)
