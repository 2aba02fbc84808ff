"""vPDQ hashing speed and memory on one core, against decoding and hashing every frame.

A generated video (:func:`heroes.lab.videos.moving_shapes`: moving shapes over noise, H.264
MP4 made in memory; ``--seconds``, ``--fps``, ``--size``) is hashed the crawler's way —
:func:`crawler.extract.video.vpdq_of_video`: every frame decoded (the codec needs them all),
one a second hashed with PDQ — and, in the same process, the baseline way: every frame
decoded and every frame hashed. The process is pinned to one core. Printed for each: video
seconds hashed per wall second and per CPU second, frames hashed, and its resident memory
before hashing (imports and the body) and at its peak (each way runs in a fresh process
that gets the body on its standard input — nothing is written — so the high-water mark,
VmHWM, is its own); then the ratio.
Each is run ``--rounds`` times and the best round is kept.

Matching: ``--entries`` vPDQ list entries (default 100,000) of ``--entry-frames`` random
frames each, plus a few made from the lab's original video with a few bits of each frame
flipped (the ones to find), loaded into :class:`index.matching_vpdq.VpdqIndex` (build time,
resident memory); then the lab videos and their variants (:mod:`heroes.lab.videos`) are
matched against it, and, as the baseline, against every frame of every entry by a numpy
full scan with the same rule. Printed: build seconds, mean ms per query video for each, the
ratio, and whether both found the same entries. ``--smoke``: a 3 s video at 160x120, one
round, 500 entries (seconds).

    .venv/bin/python -m bench.video [--seconds 60] [--fps 25] [--size 320x240] [--rounds 3]
                                    [--entries 100000] [--entry-frames 30]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
import psutil

from bench.common.memory import peak_rss_mb
from crawler.extract.pdq import pdq_of_pixels
from crawler.extract.video import VideoLimits, vpdq_of_video
from heroes.lab.videos import VIDEO_VARIANTS, encode, lab_videos, moving_shapes
from identifiers.vpdq import VpdqFrame
from index.matching_vpdq import VpdqIndex

MAX_DISTANCE, MIN_QUALITY, MATCH_FRACTION = 31, 50, 0.8
# Entries made from the lab's original video (bits flipped per frame), among the random ones.
PLANTED = 5


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    frames: int
    rss_mb: float
    peak_rss_mb: float


def every_frame(body: bytes) -> list[dict]:
    """The baseline: each decoded frame hashed."""
    out = []
    with av.open(io.BytesIO(body)) as container:
        for frame in container.decode(video=0):
            pdq, quality = pdq_of_pixels(frame.to_ndarray(format="rgb24"))
            out.append({"t": frame.time, "pdq": pdq, "q": quality})
    return out


def ours(body: bytes) -> list[dict]:
    result = vpdq_of_video(body, VideoLimits(max_seconds=86_400, max_frames=10_000_000))
    if result.error:
        raise SystemExit(f"vPDQ failed on the generated video: {result.error}")
    return result.frames


MODES: dict[str, tuple[str, Callable[[bytes], list[dict]]]] = {
    "ours": ("vPDQ, 1 frame/s (ours)", ours),
    "baseline": ("every frame decoded and hashed", every_frame),
}


def child(mode: str, rounds: int) -> None:
    """One mode in a fresh process: the body on stdin, one JSON line of figures out."""
    body = sys.stdin.buffer.read()
    fn = MODES[mode][1]
    # Resident memory with imports and the body held, then the kernel's high-water mark.
    before = psutil.Process().memory_info().rss / 2**20
    runs = []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        frames = len(fn(body))
        runs.append((time.perf_counter() - wall, time.process_time() - cpu, frames))
    peak = peak_rss_mb()
    wall, cpu, frames = min(runs)
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "frames": frames,
                      "rss_mb": before, "peak_rss_mb": peak}))


def run_child(mode: str, body: bytes, rounds: int) -> Run:
    done = subprocess.run([sys.executable, "-m", "bench.video", "--child", mode,
                           "--rounds", str(rounds)], input=body, capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench.video {mode} failed: {done.stderr.decode()[-2000:]}")
    return Run(**json.loads(done.stdout))


def _words(hexes: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=">u8").astype(np.uint64)\
        .reshape(-1, 4)


def _flip(pdq: str, bits: int, rng: np.random.Generator) -> str:
    value = int(pdq, 16)
    for bit in rng.choice(256, size=bits, replace=False).tolist():
        value ^= 1 << bit
    return f"{value:064x}"


def make_entries(n: int, per_entry: int, original: list[VpdqFrame],
                 rng: np.random.Generator) -> list[tuple[str, list[VpdqFrame]]]:
    raw = rng.integers(0, 256, size=(n * per_entry, 32), dtype=np.uint8).tobytes().hex()
    quality = rng.integers(MIN_QUALITY, 101, size=n * per_entry).tolist()
    entries = []
    for e in range(n):
        base = e * per_entry
        entries.append((f"random-{e}", [
            VpdqFrame(float(i), raw[(base + i) * 64:(base + i + 1) * 64], quality[base + i])
            for i in range(per_entry)]))
    for k in range(PLANTED):
        entries.append((f"planted-{k}", [VpdqFrame(f.t, _flip(f.pdq, 4 + 2 * k, rng), f.q)
                                         for f in original]))
    return entries


class FullScan:
    """The baseline: every query frame against every frame of every entry (numpy)."""

    def __init__(self, entries: list[tuple[str, list[VpdqFrame]]]):
        self.keys = []
        hexes, owner, sizes = [], [], []
        for key, frames in entries:
            distinct = sorted({f.pdq for f in frames if f.q >= MIN_QUALITY})
            if distinct:
                owner.extend([len(self.keys)] * len(distinct))
                sizes.append(len(distinct))
                hexes.extend(distinct)
                self.keys.append(key)
        self.words = _words(hexes)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.sizes = np.asarray(sizes, dtype=np.int64)

    def match(self, frames: list[VpdqFrame]) -> set[str]:
        query = sorted({f.pdq for f in frames if f.q >= MIN_QUALITY})
        if not query:
            return set()
        n_entries = len(self.keys)
        matched_query = np.zeros(n_entries, dtype=np.int64)
        near_entry_frame = np.zeros(len(self.words), dtype=bool)
        for word in _words(query):
            near = np.bitwise_count(self.words ^ word).sum(axis=1) <= MAX_DISTANCE
            near_entry_frame |= near
            matched_query[np.unique(self.owner[near])] += 1
        matched_entry = np.bincount(self.owner[near_entry_frame], minlength=n_entries)
        passes = (matched_query >= MATCH_FRACTION * len(query) - 1e-9) | (
            matched_entry >= MATCH_FRACTION * self.sizes - 1e-9)
        passes &= matched_query > 0
        return {self.keys[e] for e in np.flatnonzero(passes).tolist()}


def bench_matching(n: int, per_entry: int) -> None:
    rng = np.random.default_rng(5)
    queries = {name: [VpdqFrame(f["t"], f["pdq"], f["q"]) for f in vpdq_of_video(body).frames]
               for name, body in lab_videos(3).items()}
    entries = make_entries(n, per_entry, queries["original"], rng)
    proc = psutil.Process()
    rss = proc.memory_info().rss
    built = time.perf_counter()
    index = VpdqIndex(entries, max_distance=MAX_DISTANCE, min_quality=MIN_QUALITY,
                      match_fraction=MATCH_FRACTION)
    built = time.perf_counter() - built
    index_mb = (proc.memory_info().rss - rss) / 2**20
    scan = FullScan(entries)
    print(f"\nmatching: {len(entries):,} vPDQ entries x {per_entry} frames "
          f"({len(entries) * per_entry:,} frame hashes; {PLANTED} made from the lab original); "
          f"index built in {built:.1f} s, +{index_mb:.0f} MB RSS")
    ours_s, scan_s, same = [], [], True
    for name in VIDEO_VARIANTS:
        started = time.perf_counter()
        found = {hit.key for hit in index.match(queries[name])}
        ours_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        expected = scan.match(queries[name])
        scan_s.append(time.perf_counter() - started)
        same &= found == expected
        print(f"  {name:10} ours {ours_s[-1] * 1e3:8.1f} ms  full scan {scan_s[-1] * 1e3:8.1f} ms"
              f"  entries matched {len(found)}")
    ours_ms, scan_ms = 1e3 * np.mean(ours_s), 1e3 * np.mean(scan_s)
    print(f"mean per query video: ours {ours_ms:.1f} ms, full scan {scan_ms:.1f} ms, "
          f"ratio {scan_ms / ours_ms:.1f}x; same entries found: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit("the index and the full scan disagree")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--entry-frames", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--child", choices=sorted(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.child:
        child(args.child, args.rounds)
        return
    if args.smoke:
        args.seconds, args.fps, args.size, args.rounds, args.entries = 3, 10, "160x120", 1, 500
    width, height = (int(v) for v in args.size.lower().split("x"))

    made = time.perf_counter()
    body = encode(moving_shapes(11, args.seconds, args.fps, (width, height)), fps=args.fps,
                  bit_rate=width * height * 4)
    made = time.perf_counter() - made
    print(f"video: {args.seconds} s, {args.fps} fps, {width}x{height}, H.264 MP4 "
          f"{len(body) / 2**20:.2f} MB (made in {made:.1f} s); one core, best of "
          f"{args.rounds}, each way in its own process")
    results = {mode: run_child(mode, body, args.rounds) for mode in MODES}
    print(f"{'':34} {'video s/wall s':>15} {'video s/CPU s':>14} {'frames':>7} "
          f"{'RSS MB before':>14} {'peak RSS MB':>12}")
    for mode, run in results.items():
        print(f"{MODES[mode][0]:34} {args.seconds / run.wall_s:15.1f} "
              f"{args.seconds / run.cpu_s:14.1f} {run.frames:7d} {run.rss_mb:14.1f} "
              f"{run.peak_rss_mb:12.1f}")
    print(f"ratio ours / baseline (throughput): "
          f"{results['baseline'].wall_s / results['ours'].wall_s:.2f}x")
    bench_matching(args.entries, args.entry_frames)


if __name__ == "__main__":
    main()
