"""Hash-list import, matching at ingest, and ingest-to-email latency.

Import: a list of N md5 lines through the importer into the membership store and the
spool (wall and CPU seconds), then the same file again (nothing changes).
Matching: documents/s of the matching stage with N exact flagged values loaded (md5 on a
list; each page carries 4 media hashes, 2 wallets and a magnet, 1 % of pages carry a
flagged md5), and with M PDQ hashes (each page 2 images, distance <= 31, 30 of them
near-duplicates of listed hashes), with the process's resident memory after loading.
Baseline, in the same process: the naive way, one SQLite lookup per value in the same
membership store (exact); for PDQ the same pages with no list loaded and the exact full
scan (the reference, timed on a few pages), then ingest as a unit runs it, the spool
append and the drain with matching into the embedded index, with the list and with none
(the ratio to reach is 0.7x); and the issue's baseline, one query of the embedded index
per document, with a smaller list also indexed as ``hash`` documents. ``--smoke`` runs
every step at tiny sizes (seconds).
Latency: 1,000 flagged observations appended at a steady rate to the spool of a real
installation (embedded index, drain role, alert engine, sender) and delivered to the lab
SMTP sink; p50/p95 from append to the message file.

    .venv/bin/python -m bench.match [--exact 1000000,10000000] [--pdq 1000000] [--docs 20000]
                                      [--latency 1000] [--import-values 1000000]
                                      [--index-values 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.common.memory import rss_mb
from bench.common.process import add_gc_option, as_heroes_runs
from config import Settings
from config.sections.alerts import AlertRule, AlertSettings, SmtpSettings
from config.sections.matching import MatchingSettings
from documents import Observation, Page
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.matching import MatchingStage
from index.matching_fields import probes_of

NOW = "2026-11-29T12:00:00Z"
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


def random_hex(rng: np.random.Generator, n: int, nbytes: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8).tobytes().hex()
    width = nbytes * 2
    return [raw[i * width:(i + 1) * width] for i in range(n)]


def fill(store: MembershipStore, type_name: str, values: list[str], chunk: int = 10**6) -> float:
    started = time.perf_counter()
    for start in range(0, len(values), chunk):
        store.upsert(Entry("bench", type_name, v, "", "", NOW) for v in values[start:start + chunk])
    return time.perf_counter() - started


def pages(
    rng: np.random.Generator, n: int, flagged: list[str], pdq: list[str] | None
) -> list[Page]:
    out = []
    md5s = random_hex(rng, n * 4, 16)
    for i in range(n):
        media = [{"url": f"http://bench{i % 50}.onion/m{j}.png", "md5": md5s[i * 4 + j]}
                 for j in range(4)]
        if i % 100 == 0 and flagged:
            media[0]["md5"] = flagged[i % len(flagged)]
        if pdq is not None:
            media = [{**m, "pdq": pdq[(i * 2 + j) % len(pdq)], "pdq_quality": 90}
                     for j, m in enumerate(media[:2])]
        out.append(Page(url=f"http://bench{i % 50}.onion/p/{i}", fetched_at=NOW, media=media,
                        entities={"btc": [BTC, BTC], "magnets": [f"magnet:?xt=urn:btih:{i:040x}"]}))
    return out


def rate(fn: Callable[[Page], bool], docs: list[Page]) -> tuple[float, int]:
    started = time.perf_counter()
    flagged = sum(bool(fn(d)) for d in docs)
    return len(docs) / (time.perf_counter() - started), flagged


def batch_rate(stage: MatchingStage, docs: list[Page], batch: int = 1000) -> tuple[float, int]:
    """Documents/s the way the drain calls the stage: batches of ``index.batch_size``."""
    started = time.perf_counter()
    flagged = 0
    for start in range(0, len(docs), batch):
        flagged += sum(d.flagged for d in stage.mark_batch(docs[start:start + batch]))
    return len(docs) / (time.perf_counter() - started), flagged


def bench_import(n_values: int, tmp: Path) -> None:
    from index.hashsets.importer import import_file
    from index.spool import Spool

    path = tmp / "import.txt"
    path.write_text("".join(f"{i:032x}\n" for i in range(n_values)))
    members = MembershipStore(tmp / "import.sqlite")
    spool = Spool(tmp / "import-spool.sqlite")
    started, cpu = time.perf_counter(), time.process_time()
    report = import_file(path, members, spool.append, type_name="md5")
    first = (time.perf_counter() - started, time.process_time() - cpu)
    started, cpu = time.perf_counter(), time.process_time()
    again = import_file(path, members, spool.append, type_name="md5")
    second = (time.perf_counter() - started, time.process_time() - cpu)
    print(f"import {n_values:,} md5 lines (store + {report.imported:,} hash documents spooled): "
          f"{first[0]:.1f}s wall, {first[1]:.1f}s CPU; re-import ({again.imported} changed): "
          f"{second[0]:.1f}s wall, {second[1]:.1f}s CPU")
    members.close()
    spool.close()


def bench_exact(n_values: int, n_docs: int, tmp: Path) -> None:
    rng = np.random.default_rng(n_values)
    store = MembershipStore(tmp / f"exact-{n_values}.sqlite")
    values = random_hex(rng, n_values, 16)
    load_s = fill(store, "md5", values)
    before = rss_mb()
    stage = MatchingStage(store, MatchingSettings())
    started = time.perf_counter()
    stage.index.load()
    index_s = time.perf_counter() - started
    docs = pages(rng, n_docs, values[:1000], None)
    ours, hits = batch_rate(stage, docs)

    def naive(doc: Page) -> bool:
        return any(store.lookup(p.type, p.value) for p in probes_of(doc))

    base, _ = rate(naive, docs[: max(1000, n_docs // 10)])
    print(f"exact {n_values:>11,} values: store {load_s:6.1f}s, load {index_s:5.1f}s, "
          f"matcher RSS +{rss_mb() - before:6.0f} MiB (process {rss_mb():.0f} MiB)")
    print(f"  ours {ours:10,.0f} docs/s ({hits} flagged of {len(docs)}); baseline sqlite-per-value "
          f"{base:10,.0f} docs/s; ratio {ours / base:5.1f}x")
    store.close()


async def bench_index_query(n_values: int, n_docs: int, tmp: Path) -> None:
    """Baseline of the issue: one query of the embedded index per document."""
    from documents import FlaggedHash
    from index.store import Store
    from query.model import Search, Terms

    rng = np.random.default_rng(11)
    settings = Settings(data_dir=tmp / "index-baseline")
    store = Store(settings)
    values = random_hex(rng, n_values, 16)
    for start in range(0, n_values, 10_000):
        store.append(FlaggedHash(value=v, type="md5", list="bench", added_at=NOW)
                     for v in values[start:start + 10_000])
    started = time.perf_counter()
    async with store.writer() as drainer:
        await drainer.drain_all()
    index_s = time.perf_counter() - started
    members = MembershipStore(membership_path(settings.data_dir))
    fill(members, "md5", values)
    stage = MatchingStage(members, MatchingSettings())
    stage.index.load()
    docs = pages(rng, n_docs, values[:1000], None)
    ours, hits = batch_rate(stage, docs)
    async with store.reader() as backend:
        started = time.perf_counter()
        base_hits = 0
        for doc in docs:
            wanted = tuple(p.value for p in probes_of(doc) if p.type == "md5")
            found = await backend.search(Search("hash", Terms("value", wanted), size=10))
            base_hits += found["hits"]["total"]["value"] > 0
        base = len(docs) / (time.perf_counter() - started)
    print(f"exact {n_values:>11,} values also indexed as hash documents ({index_s:.0f}s to index):")
    print(f"  ours {ours:10,.0f} docs/s ({hits} flagged); baseline one index query per document "
          f"{base:10,.0f} docs/s ({base_hits} flagged); ratio {ours / base:5.1f}x")
    members.close()
    store.close()


def near_copy(rng: np.random.Generator, hex_value: str, flips: int) -> str:
    """``hex_value`` with ``flips`` random bits flipped (a near-duplicate image's hash)."""
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(hex_value), dtype=np.uint8))
    bits[rng.choice(256, flips, replace=False)] ^= 1
    return np.packbits(bits).tobytes().hex()


def bench_pdq(n_hashes: int, n_docs: int, tmp: Path, planted: int = 30) -> None:
    """Matching with ``n_hashes`` PDQ hashes on a list against the same pages with no list.

    ``planted`` images are near-duplicates (1 to 31 bits away) of listed hashes; all must be
    found. The exact full scan (the reference) is timed on a few pages."""
    from index.matching_pdq import PdqIndex

    rng = np.random.default_rng(7)
    store = MembershipStore(tmp / f"pdq-{n_hashes}.sqlite")
    hashes = random_hex(rng, n_hashes, 32)
    load_s = fill(store, "pdq", hashes)
    probes = random_hex(rng, n_docs * 2, 32)
    step = max(1, len(probes) // planted)
    for k, at in enumerate(range(0, step * planted, step)):
        probes[at] = near_copy(rng, hashes[k * 997 % n_hashes], 1 + k % 31)
    docs = pages(rng, n_docs, [], probes)
    empty = MembershipStore(tmp / f"pdq-none-{n_hashes}.sqlite")
    bare = MatchingStage(empty, MatchingSettings())
    bare.index.load()
    none_rate, _ = batch_rate(bare, docs)
    before = rss_mb()
    stage = MatchingStage(store, MatchingSettings())
    started = time.perf_counter()
    stage.index.load()
    index_s = time.perf_counter() - started
    ours, hits = batch_rate(stage, docs)
    none_rate2, _ = batch_rate(bare, docs)  # again, so that load drift is seen, not hidden
    scan = PdqIndex(stage.index.store.pdq_values(), MatchingSettings().pdq_max_distance)
    sample = [np.frombuffer(bytes.fromhex(m.pdq), dtype=">u8").astype(np.uint64)
              for d in docs[:20] for m in d.media]
    started = time.perf_counter()
    for q in sample:
        scan.near(q)
    scan_rate = len(sample) / 2 / (time.perf_counter() - started)
    base = (none_rate + none_rate2) / 2
    grown = rss_mb() - before
    # Through the drain with the stages just measured (lists loaded, as a running drain has
    # them): the load is paid once when a list changes, not per batch.
    ingest_none = asyncio.run(ingest_rate(docs, bare, tmp / "ingest-none"))
    ingest_list = asyncio.run(ingest_rate(docs, stage, tmp / "ingest-list"))
    ingest_none2 = asyncio.run(ingest_rate(docs, bare, tmp / "ingest-none2"))
    ingest_base = (ingest_none + ingest_none2) / 2
    print(f"pdq   {n_hashes:>11,} hashes: store {load_s:6.1f}s, index {index_s:5.1f}s "
          f"({type(stage.index.pdq).__name__}), matcher RSS +{grown:6.0f} MiB "
          f"(process {rss_mb():.0f} MiB)")
    print(f"  ours {ours:10,.1f} docs/s ({hits} flagged of {len(docs)}, 2 images each, "
          f"{planted} near-duplicates planted); no list {base:10,.1f} docs/s; "
          f"ratio {ours / base:5.2f}x; exact full scan {scan_rate:8,.1f} docs/s "
          f"({ours / scan_rate:5.1f}x)")
    print(f"  ingest (spool append, drain with matching into the embedded index) "
          f"{ingest_list:8,.0f} docs/s; no list {ingest_base:8,.0f} docs/s "
          f"({ingest_none:,.0f}, {ingest_none2:,.0f}); ratio {ingest_list / ingest_base:5.2f}x "
          f"(to reach: 0.7x)")
    store.close()
    empty.close()


async def ingest_rate(docs: list[Page], stage: MatchingStage, workdir: Path) -> float:
    """Documents/s through the spool and the drain (matching included) into tantivy."""
    from config.sections.index import IndexSettings
    from index.backends.tantivy import TantivyBackend
    from index.drain import Drainer
    from index.spool import Spool

    workdir.mkdir()
    spool = Spool(workdir / "spool.sqlite")
    backend = TantivyBackend(workdir / "tantivy", IndexSettings(batch_size=1000))
    await backend.open(writer=True)
    started = time.perf_counter()
    for start in range(0, len(docs), 1000):
        spool.append(docs[start:start + 1000])
    drainer = Drainer(spool, backend, batch_size=1000, stages=[stage])
    await drainer.drain_all()
    await backend.close()
    elapsed = time.perf_counter() - started
    spool.close()
    return len(docs) / elapsed


async def bench_latency(n_hits: int, tmp: Path) -> None:
    from alerting.sender import run_sender
    from index.store import Store

    mail = tmp / "mail"
    sink = subprocess.Popen([sys.executable, "-m", "heroes.lab.smtp_sink", "--dir", str(mail)],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline().rsplit(":", 1)[1])
        data = tmp / "latency"
        infohash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
        members = MembershipStore(membership_path(data))
        members.upsert([Entry("bench", "infohash", infohash, "", "", NOW)])
        members.close()
        rule = AlertRule(name="hit", type="hit", recipients=["bench@lab.localhost"])
        settings = Settings(data_dir=data, alerts=AlertSettings(rules=[rule]),
                            smtp=SmtpSettings(host="127.0.0.1", port=port, tls="none", poll_s=0.05))
        store = Store(settings)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(store.drain_role().run(stop)),
                 asyncio.create_task(run_sender(settings, stop, append=store.append))]
        appended: dict[str, float] = {}
        now = datetime.now(UTC)
        for i in range(n_hits):
            ip = f"127.{1 + i // 65025}.{i // 255 % 255}.{1 + i % 255}"
            appended[f"{ip}:6881"] = time.time()
            store.append([Observation(infohash=infohash, ip=ip, port=6881, first_seen=now,
                                      last_seen=now)])
            await asyncio.sleep(0.02)  # a steady stream of ~50 hits/s
        deadline = time.monotonic() + 120
        while len(list(mail.glob("*.eml"))) < n_hits and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tasks)
        store.close()
    finally:
        sink.terminate()
        sink.wait()
    latencies = []
    for path in mail.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        peer = str(msg["Subject"]).split("peer ", 1)[1].split(" ", 1)[0]
        latencies.append(path.stat().st_mtime - appended[peer])
    lat = np.array(latencies)
    print(f"latency over {len(lat)} hits (of {n_hits}): p50 {np.percentile(lat, 50):.3f}s, "
          f"p95 {np.percentile(lat, 95):.3f}s, max {lat.max():.3f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact", default="1000000,10000000", help="exact list sizes to load")
    parser.add_argument("--pdq", type=int, default=1_000_000, help="PDQ hashes to load (0: skip)")
    parser.add_argument("--docs", type=int, default=20_000, help="pages matched per size")
    parser.add_argument("--latency", type=int, default=1000, help="hits for latency (0: skip)")
    parser.add_argument("--index-values", type=int, default=100_000,
                        help="hash documents indexed for the per-document query baseline (0: skip)")
    parser.add_argument("--import-values", type=int, default=1_000_000,
                        help="lines of a list imported through the importer (0: skip)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, every step, seconds")
    add_gc_option(parser)
    args = parser.parse_args()
    if args.smoke:
        args.exact, args.pdq, args.docs = "10000", 10_000, 400
        args.latency, args.index_values, args.import_values = 5, 1_000, 5_000
    as_heroes_runs(args)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.import_values:
            bench_import(args.import_values, tmp)
        if args.index_values:
            asyncio.run(bench_index_query(args.index_values, min(args.docs, 5000), tmp))
        for n in [int(x) for x in args.exact.split(",") if x]:
            bench_exact(n, args.docs, tmp)
        if args.pdq:
            bench_pdq(args.pdq, max(200, args.docs // 20), tmp, planted=min(30, args.docs // 20))
        if args.latency:
            asyncio.run(bench_latency(args.latency, tmp))
    os.sync()


if __name__ == "__main__":
    main()
