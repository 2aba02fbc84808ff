"""Generated lab videos: moving geometric shapes over a noisy gradient, and variants of one.

``lab_videos(seed)`` makes, in memory, an ``original`` MP4 (H.264, a few seconds, small) and
the variants a flagged video is re-posted as — ``reencoded`` at a much lower bitrate,
``resized``, ``cropped`` a little, ``trimmed`` (its start cut), ``inserted`` (other frames
spliced into the middle) — plus an ``unrelated`` video of other shapes. Every variant's
frames are close to the original's in PDQ; the unrelated one's are not. The same seed gives
the same frames (the encoder's bytes may differ between FFmpeg builds, so the ground truth
is always computed from the bytes made). Nothing is written here: callers place the bytes
(the lab sites write them at lab start; no video is ever committed). Reads no settings.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from fractions import Fraction

import av
import numpy as np

VIDEO_VARIANTS = (
    "original", "reencoded", "resized", "cropped", "trimmed", "inserted", "unrelated",
)
# Variants of the original (all but "original" and "unrelated").
DERIVED_VARIANTS = VIDEO_VARIANTS[1:-1]
FPS = 10
SIZE = (256, 192)  # width, height
SECONDS = 6
_UNRELATED_SEED_OFFSET = 7919


def moving_shapes(seed: int, seconds: float = SECONDS, fps: int = FPS,
            size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """RGB frames: a seed-chosen gradient, 14-18 shapes moving on their own paths, light noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height + 1.0) / 2.0
    low, high = rng.uniform(0, 90, 3), rng.uniform(150, 255, 3)
    background = low + ramp[..., None] * (high - low)
    shapes = []
    for _ in range(int(rng.integers(14, 19))):
        shapes.append({
            "kind": rng.choice(["box", "disc"]),
            "r": rng.uniform(0.06, 0.16) * min(width, height),
            "c": rng.uniform(0, 255, 3),
            "p": rng.uniform(0.15, 0.85, 2) * (width, height),
            "v": rng.uniform(-0.12, 0.12, 2) * (width, height),
        })
    span = np.array((width, height), dtype=np.float64)
    background = background.astype(np.float32)
    out = []
    for i in range(int(seconds * fps)):
        t = i / fps
        frame = background.copy()
        for s in shapes:
            # Shapes bounce inside the frame: a triangle wave of the linear path.
            pos = np.abs((s["p"] + s["v"] * t) % (2 * span) - span)
            r = s["r"]
            x0, x1 = max(int(pos[0] - r), 0), min(int(pos[0] + r) + 2, width)
            y0, y1 = max(int(pos[1] - r), 0), min(int(pos[1] + r) + 2, height)
            dx, dy = xs[y0:y1, x0:x1] - pos[0], ys[y0:y1, x0:x1] - pos[1]
            if s["kind"] == "box":
                mask = (np.abs(dx) < r) & (np.abs(dy) < r * 0.6)
            else:
                mask = dx * dx + dy * dy < r * r
            frame[y0:y1, x0:x1][mask] = s["c"]
        frame += rng.standard_normal(frame.shape, dtype=np.float32) * 6
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


def encode(frames: Iterable[np.ndarray], *, fps: int = FPS, bit_rate: int = 400_000) -> bytes:
    """An MP4 (H.264, yuv420p) of RGB frames, made in memory."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        stream.time_base = Fraction(1, fps)
        # Deterministic output from one build: no threads, no scene-dependent lookahead.
        stream.codec_context.options = {"threads": "1", "preset": "veryfast"}
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(pixels[: stream.height, : stream.width]), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def decode(body: bytes) -> list[np.ndarray]:
    """The RGB frames of a video made by :func:`encode`."""
    with av.open(io.BytesIO(body)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _resize(frames: Sequence[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    out = []
    for pixels in frames:
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        out.append(frame.reformat(width=size[0], height=size[1]).to_ndarray(format="rgb24"))
    return out


@functools.lru_cache(maxsize=4)
def lab_videos(seed: int) -> dict[str, bytes]:
    """Every name of :data:`VIDEO_VARIANTS` -> its MP4 bytes (see the module docstring).

    Cached per seed (a lab world places them on several pages); do not change the dict.
    """
    frames = moving_shapes(seed)
    original = encode(frames)
    width, height = SIZE
    # "A little" is 1% a side: PDQ (a global DCT of the frame) loses about one bit in four
    # at 2.5% a side, past the distance vPDQ matches at.
    mx, my = width // 96, height // 96
    cropped = [f[my: height - my, mx: width - mx] for f in frames]
    other = moving_shapes(seed + _UNRELATED_SEED_OFFSET)
    middle = len(frames) // 2
    return {
        "original": original,
        "reencoded": encode(decode(original), bit_rate=120_000),
        "resized": encode(_resize(frames, (width * 3 // 4, height * 3 // 4))),
        "cropped": encode(cropped),
        "trimmed": encode(frames[2 * FPS:]),
        "inserted": encode([*frames[:middle], *other[: 2 * FPS], *frames[middle:]]),
        "unrelated": encode(other),
    }
