"""Retro-hunt of a hash list over stored media hashes, against one query per list value.

Builds an embedded index of pages (``--per-page`` media each: an md5 each, a PDQ hash on
the first), ``--media`` media hashes in all, with no list loaded; then a list of
``--values`` md5 values (of which ``--planted`` are hashes of stored media) plus 1,000 PDQ
hashes (100 of them near copies, 1 to 20 bits away, of stored PDQ hashes) is added, and
the retro-hunt (:mod:`index.hunt`) runs it over the index: wall time, pages/s, media
hashes/s, the rate of the first and the last tenth of the batches (a cursor that slows
down as it goes would show here), and whether every planted hit was found. Baseline, in
the same run and the same index: the naive way, one index query per list value
(``media.md5`` term, exact only: a near-PDQ value has no query), timed on ``--sample``
values and extrapolated to the whole list; both are also extrapolated to the target size
(10M stored media hashes, 1M values; target under 15 minutes), linearly in media scanned
for the hunt and in values for the baseline, and the output says which figures are
measured and which extrapolated. ``--smoke`` runs every step at tiny sizes (seconds).

    .venv/bin/python -m bench.analysis_hunt [--media 10000000] [--values 1000000]
                                            [--per-page 10] [--sample 1000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from alerting.db import alert_db_path
from bench.common.peers_fill import FillTimes, TantivyBulk
from config import Settings
from config.sections.hunt import HuntSettings
from documents import Page
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.hunt.alerts import RetroAlerter
from index.hunt.checkpoint import Checkpoints, checkpoint_path
from index.hunt.runner import KindReport, run_hunt
from index.hunt.targets import ListTarget
from index.store import Store
from query.model import Search, Term

TARGET_MEDIA = 10_000_000
TARGET_VALUES = 1_000_000
TARGET_S = 15 * 60
START = datetime(2026, 1, 1, tzinfo=UTC)
ADDED = "2026-11-30T00:00:00Z"
PAGE_CHUNK = 20_000


def hex_values(rng: np.random.Generator, n: int, nbytes: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8).tobytes().hex()
    width = nbytes * 2
    return [raw[i * width:(i + 1) * width] for i in range(n)]


def near(rng: np.random.Generator, hex_value: str, flips: int) -> str:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(hex_value), dtype=np.uint8))
    bits[rng.choice(256, flips, replace=False)] ^= 1
    return np.packbits(bits).tobytes().hex()


async def build_index(settings: Settings, n_pages: int, per_page: int,
                      rng: np.random.Generator
                      ) -> tuple[dict[str, int], dict[str, int], float]:
    """Index the pages; returns stored md5s and PDQs (a sample, each with its page number)
    and the seconds taken. Written with one writer and one commit in the backend's own
    layout and conversion (what the hunt reads is what the drain would have written; a
    commit per batch would make the 10M build hours)."""
    bulk = TantivyBulk(settings.data_dir / "index", heap_mb=1024, kind=Page)
    times = FillTimes()
    md5_sample: dict[str, int] = {}
    pdq_sample: dict[str, int] = {}
    started = time.perf_counter()
    for start in range(0, n_pages, PAGE_CHUNK):
        n = min(PAGE_CHUNK, n_pages - start)
        md5s = hex_values(rng, n * per_page, 16)
        pdqs = hex_values(rng, n, 32)
        pages = []
        for i in range(n):
            k = start + i
            media = [{"url": f"http://bench{k % 997}.onion/m/{k}/{j}.jpg",
                      "md5": md5s[i * per_page + j]} for j in range(per_page)]
            media[0].update(pdq=pdqs[i], pdq_quality=90)
            pages.append(Page(url=f"http://bench{k % 997}.onion/p/{k}",
                              fetched_at=START + timedelta(seconds=k), media=media))
        for j in range(0, len(md5s), max(1, len(md5s) // 2000)):
            md5_sample[md5s[j]] = start + j // per_page
        for j in range(0, n, max(1, n // 200)):
            pdq_sample[pdqs[j]] = start + j
        await bulk.add(pages, times)
    await bulk.finish(times)
    return md5_sample, pdq_sample, time.perf_counter() - started


def add_list(settings: Settings, n_values: int, md5_stored: dict[str, int],
             pdq_stored: dict[str, int], planted: int, rng: np.random.Generator
             ) -> tuple[list[str], set[int], set[int]]:
    """Store the lists (md5: ``bench-md5``, PDQ: ``bench-pdq``); returns the planted md5
    values and the pages each list must hit."""
    members = MembershipStore(membership_path(settings.data_dir))
    hits = random.Random(1).sample(sorted(md5_stored), min(planted, len(md5_stored)))
    values = hits + hex_values(rng, max(0, n_values - len(hits)), 16)
    for start in range(0, len(values), 500_000):
        members.upsert(Entry("bench-md5", "md5", v, "", "", ADDED)
                       for v in values[start:start + 500_000])
    near_stored = sorted(pdq_stored)[:100]
    pdq_list = [near(rng, v, int(rng.integers(1, 21))) for v in near_stored]
    pdq_list += hex_values(rng, 1000 - len(pdq_list), 32)
    members.upsert(Entry("bench-pdq", "pdq", v, "", "", ADDED) for v in pdq_list)
    members.close()
    return hits, {md5_stored[v] for v in hits}, {pdq_stored[v] for v in near_stored}


async def hunt(settings: Settings, name: str
               ) -> tuple[float, float, float, list[float], int]:
    """(seconds to load the list, seconds to hunt, CPU seconds of the hunt, per-batch
    pages/s, hits)."""
    members = MembershipStore(membership_path(settings.data_dir))
    checkpoints = Checkpoints(checkpoint_path(settings.data_dir))
    store = Store(settings)
    alerter = RetroAlerter(settings.alerts, alert_db_path(settings.data_dir), store.append)
    rates: list[float] = []
    last = [time.perf_counter(), 0]

    def progress(kr: KindReport, _rate: float) -> None:
        now = time.perf_counter()
        rates.append((kr.scanned - last[1]) / max(now - last[0], 1e-9))
        last[:] = [now, kr.scanned]

    try:
        started = time.perf_counter()
        target = ListTarget(members, name, settings.matching, settings.alerts)
        load_s = time.perf_counter() - started
        async with store.reader() as backend:
            started = last[0] = time.perf_counter()
            cpu = time.process_time()
            report = await run_hunt(target, backend, checkpoints, alerter, store.append,
                                    settings.hunt, progress=progress)
            hunt_s = time.perf_counter() - started
            cpu_s = time.process_time() - cpu
    finally:
        alerter.close()
        store.close()
        checkpoints.close()
        members.close()
    return load_s, hunt_s, cpu_s, rates, report.hits


async def one_query_per_value(settings: Settings, values: list[str]) -> tuple[float, int]:
    """Seconds per value of the naive way (a term query each), and the values found."""
    store = Store(settings)
    found = 0
    async with store.reader() as backend:
        for v in values[:20]:  # warm-up
            await backend.search(Search("page", Term("media.md5", v), size=10))
        started = time.perf_counter()
        for v in values:
            result = await backend.search(Search("page", Term("media.md5", v), size=10))
            found += result["hits"]["total"]["value"] > 0
        took = time.perf_counter() - started
    store.close()
    return took / max(len(values), 1), found


async def run(n_media: int, n_values: int, per_page: int, sample: int, root: Path) -> None:
    rng = np.random.default_rng(16)
    settings = Settings(data_dir=root / "data", hunt=HuntSettings(batch_size=2000))
    n_pages = max(1, n_media // per_page)
    md5_stored, pdq_stored, index_s = await build_index(settings, n_pages, per_page, rng)
    planted = max(1, min(1000, n_values // 10))
    hits, md5_pages, pdq_pages = add_list(settings, n_values, md5_stored, pdq_stored, planted,
                                          rng)
    media = n_pages * per_page
    print(f"index: {n_pages:,} pages, {media:,} media hashes ({index_s:.0f}s to build)")
    print(f"lists: bench-md5 {n_values:,} md5 values ({len(hits)} of stored media, on "
          f"{len(md5_pages)} pages); bench-pdq 1,000 PDQ (100 near copies of stored images, "
          f"on {len(pdq_pages)} pages)")
    scale = TARGET_MEDIA / media
    # The md5 list is looked up (a terms query per chunk of values): its cost follows the
    # values; the PDQ list is scanned: its cost follows the media scanned.
    load_s, hunt_s, cpu_s, _, found = await hunt(settings, "bench-md5")
    print(f"md5 list (measured): loaded in {load_s:.1f}s, looked up in {hunt_s:.1f}s "
          f"({n_values / hunt_s:,.0f} values/s, {cpu_s:.1f} CPU s); pages hit {found} of "
          f"{len(md5_pages)} ({'all found' if found == len(md5_pages) else 'MISMATCH'})")
    probe = random.Random(2).sample(hits, min(len(hits), sample // 10))
    probe += hex_values(rng, max(0, sample - len(probe)), 16)
    per_value, base_found = await one_query_per_value(settings, probe)
    naive_s = per_value * n_values
    print(f"baseline (measured on {len(probe):,} values): one query per value "
          f"{per_value * 1000:.2f} ms each, {base_found} found of "
          f"{len(set(probe) & set(hits))} planted; the whole list extrapolated: "
          f"{naive_s:,.0f}s; ratio {naive_s / (load_s + hunt_s):.1f}x")
    ours_target = (load_s + hunt_s) * TARGET_VALUES / n_values
    print(f"  at the target (1M values over 10M media; extrapolated linearly in values, the "
          f"index's own size left aside): ours {ours_target / 60:,.1f} min (target < "
          f"{TARGET_S // 60} min: {'met' if ours_target < TARGET_S else 'MISSED'}), one "
          f"query per value {per_value * TARGET_VALUES / 60:,.1f} min")
    load_s, hunt_s, cpu_s, rates, found = await hunt(settings, "bench-pdq")
    tenth = max(1, len(rates) // 10)
    first, last = statistics.fmean(rates[:tenth]), statistics.fmean(rates[-tenth:])
    print(f"PDQ list (measured, scanned): {hunt_s:.1f}s over the index: "
          f"{n_pages / hunt_s:,.0f} pages/s, {media / hunt_s:,.0f} media hashes/s, "
          f"{cpu_s:.1f} CPU s; first tenth {first:,.0f} pages/s, last tenth {last:,.0f}; "
          f"pages hit {found} of {len(pdq_pages)} "
          f"({'all found' if found == len(pdq_pages) else 'MISMATCH'}); no per-value query "
          f"can find a near PDQ hash")
    print(f"  at 10M media (extrapolated linearly in media scanned; the last tenth's rate "
          f"shows whether that holds): {hunt_s * scale / 60:,.1f} min at the mean rate, "
          f"{n_pages * scale / max(last, 1e-9) / 60:,.1f} min at the last tenth's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=int, default=TARGET_MEDIA)
    parser.add_argument("--values", type=int, default=TARGET_VALUES)
    parser.add_argument("--per-page", type=int, default=10)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: seconds.")
    args = parser.parse_args()
    if args.smoke:
        args.media, args.values, args.sample = 4_000, 2_000, 100
    root = Path(tempfile.mkdtemp(prefix="bench-hunt-", dir=args.dir))
    try:
        asyncio.run(run(args.media, args.values, args.per_page, args.sample, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
