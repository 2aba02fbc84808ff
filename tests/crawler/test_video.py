"""Video hashing in memory: byte hashes, vPDQ of the lab videos and their variants (and how
the drain's matcher takes them), the size cap, bad input, nothing written."""

from __future__ import annotations

import builtins
import hashlib
import io
import os
import random
from pathlib import Path

import av
import pytest

from config.sections.matching import MatchingSettings
from crawler.extract.media import hash_media, media_kind
from crawler.extract.video import VideoLimits, looks_like_video, vpdq_of_video
from documents.page import Media, Page
from heroes.lab.site_entities import Planter
from heroes.lab.videos import DERIVED_VARIANTS, FPS, SECONDS, lab_videos, moving_shapes
from identifiers.vpdq import frames_of
from index.matching_vpdq import VpdqIndex

SEED = 3
NEAR = 31  # vPDQ's frame distance


def _distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _near_share(frames: list[dict], reference: list[dict]) -> float:
    """Share of ``frames`` with a frame of ``reference`` within NEAR bits."""
    near = [f for f in frames if min(_distance(f["pdq"], r["pdq"]) for r in reference) <= NEAR]
    return len(near) / len(frames)


@pytest.fixture(scope="module")
def videos() -> dict[str, bytes]:
    return lab_videos(SEED)


def test_video_gets_byte_hashes_and_one_frame_a_second(videos):
    body = videos["original"]
    hashes = hash_media(body, "video/mp4")
    assert hashes.kind == "video" and not hashes.truncated and hashes.error is None
    assert hashes.md5 == hashlib.md5(body).hexdigest()
    assert hashes.sha1 == hashlib.sha1(body).hexdigest()
    assert hashes.sha256 == hashlib.sha256(body).hexdigest()
    assert hashes.size == len(body)
    assert hashes.pdq is None and hashes.pdq_dihedral is None
    assert hashes.duration_s == pytest.approx(SECONDS, abs=0.2)
    assert [f["t"] for f in hashes.vpdq] == [float(s) for s in range(SECONDS)]
    for frame in hashes.vpdq:
        assert len(frame["pdq"]) == 64 and int(frame["pdq"], 16) >= 0
        assert isinstance(frame["q"], int) and 0 <= frame["q"] <= 100
    # The signature is enough without a content type; a second run gives the same frames.
    assert hash_media(body).vpdq == hashes.vpdq


def test_kinds_by_content_type_and_signature(videos):
    image = Planter(random.Random(5)).image("PNG")
    assert media_kind(videos["original"]) == "video"
    assert media_kind(image) == "image" and media_kind(image, "image/png") == "image"
    assert media_kind(b"RIFF\x00\x00\x00\x00AVI LIST") == "video"
    assert media_kind(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image"
    assert media_kind(b"\x1a\x45\xdf\xa3webm") == "video"
    assert media_kind(b"<html></html>", "text/html") == "other"
    assert media_kind(b"anything", "video/webm") == "video"
    # An AVIF still image is an ISO BMFF file too, but not a video.
    assert not looks_like_video(b"\x00\x00\x00\x1cftypavif")
    assert hash_media(image).kind == "image" and hash_media(image).vpdq is None


@pytest.mark.parametrize("variant", DERIVED_VARIANTS)
def test_variants_have_frames_close_to_the_original(videos, variant):
    original = vpdq_of_video(videos["original"]).frames
    frames = vpdq_of_video(videos[variant]).frames
    assert frames
    # "inserted" carries 2 s of other frames in 8: the rest is the original's.
    least = 0.7 if variant == "inserted" else 0.8
    assert _near_share(frames, original) >= least, variant


def test_unrelated_video_is_far_from_the_original(videos):
    original = vpdq_of_video(videos["original"]).frames
    unrelated = vpdq_of_video(videos["unrelated"]).frames
    assert len(unrelated) == SECONDS
    assert _near_share(unrelated, original) == 0.0


def test_over_the_cap_the_prefix_is_hashed_and_marked(videos):
    body = videos["unrelated"]
    cap = len(body) // 3
    hashes = hash_media(body, "video/mp4", max_bytes=cap)
    assert hashes.truncated and hashes.size == cap
    assert hashes.sha256 == hashlib.sha256(body[:cap]).hexdigest()
    assert hashes.md5 == hashlib.md5(body[:cap]).hexdigest()
    # The lab's MP4s keep their index at the end: a prefix does not decode, and says so.
    assert hashes.vpdq is None and hashes.error and hashes.error.startswith("undecodable")
    exact = hash_media(body, "video/mp4", max_bytes=len(body))
    assert not exact.truncated and exact.sha256 == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("body", [
    b"",
    b"\x00\x00\x00\x18ftypisom" + bytes(200),
    b"\x1a\x45\xdf\xa3" + os.urandom(5000),
    os.urandom(20_000),
], ids=["empty", "mp4-header-only", "webm-noise", "noise"])
def test_undecodable_video_is_recorded_with_its_error(body):
    hashes = hash_media(body, "video/mp4")
    assert hashes.kind == "video"
    assert hashes.sha256 == hashlib.sha256(body).hexdigest()
    assert hashes.vpdq is None
    assert hashes.error and hashes.error.startswith("undecodable video"), hashes.error
    assert "<none>" not in hashes.error and "Errno" not in hashes.error


def test_a_cut_video_keeps_the_frames_it_decoded(videos):
    body = videos["original"]
    # Without its index an MP4 is unreadable, so cut the frames, not the bytes: a limit.
    result = vpdq_of_video(body, VideoLimits(max_seconds=2.5))
    assert [f["t"] for f in result.frames] == [0.0, 1.0, 2.0]
    assert result.error == "decode stopped at 2.5 s"
    result = vpdq_of_video(body, VideoLimits(max_frames=FPS + 1))
    assert [f["t"] for f in result.frames] == [0.0, 1.0]
    assert result.error == f"decode stopped after {FPS + 1} frames"
    result = vpdq_of_video(body, VideoLimits(max_pixels=100 * 100))
    assert result.frames == [] and result.error == "frame too large: 256x192"


def test_video_media_fits_the_page_document(videos):
    hashes = hash_media(videos["original"], "video/mp4")
    media = Media(url="http://x.onion/v.mp4", kind=hashes.kind, vpdq=hashes.vpdq,
                  duration_s=hashes.duration_s, truncated=True, sha256=hashes.sha256)
    page = Page(url="http://x.onion/", fetched_at="2026-01-01T00:00:00Z", media=[media])
    again = Page.model_validate(page.model_dump(mode="json"))
    assert again.media[0].vpdq == hashes.vpdq and again.media[0].truncated
    assert Media(url="http://x.onion/old.png").kind is None  # older documents


def test_no_file_written_while_videos_are_hashed(videos, tmp_path, monkeypatch):
    """No Python-level write, and no file appears in the working or temporary directory."""
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

    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    for name in ("original", "cropped"):
        assert hash_media(videos[name], "video/mp4").vpdq
    assert hash_media(os.urandom(4000), "video/mp4").error
    assert opened == []
    assert list(Path(work).iterdir()) == [] and list(Path(temp).iterdir()) == []


def test_every_variant_matches_the_original_entry_and_the_unrelated_one_does_not(videos):
    """The crawler's frames, through the drain's vPDQ matcher with the default settings."""
    settings = MatchingSettings()
    entry = frames_of(hash_media(videos["original"]).vpdq)
    index = VpdqIndex([("original", entry)], max_distance=settings.pdq_max_distance,
                      min_quality=settings.pdq_min_quality,
                      match_fraction=settings.vpdq_match_fraction)
    for variant in DERIVED_VARIANTS:
        hits = index.match(frames_of(hash_media(videos[variant]).vpdq))
        assert [h.key for h in hits] == ["original"], variant
    inserted = index.match(frames_of(hash_media(videos["inserted"]).vpdq))[0]
    # The 2 s spliced into the middle are the gap between the matched time ranges.
    assert [list(r) for r in inserted.time_ranges] == [[0.0, 2.0], [5.0, 7.0]]
    assert index.match(frames_of(hash_media(videos["unrelated"]).vpdq)) == []


def test_times_count_from_the_first_frame_of_an_mpeg_ts_stream():
    """A transport stream may start its clock anywhere: frame times are from its first frame."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mpegts") as container:
        stream = container.add_stream("mpeg1video", rate=25)
        stream.width, stream.height, stream.pix_fmt = 256, 192, "yuv420p"
        for i, pixels in enumerate(moving_shapes(4, 3, 25)):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = 25 * 1000 + i  # the stream's clock starts at 1000 s
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    body = out.getvalue()
    assert media_kind(body) == "video"
    result = vpdq_of_video(body)
    assert result.error is None and [f["t"] for f in result.frames] == [0.0, 1.0, 2.0]
