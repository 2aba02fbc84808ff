"""Sealed evidence logs: append rate against the plain hash chain, proofs at scale, exports.

1. Appends/s of :class:`evidence.sealedlog.SealedLog` (one fsync per append, Merkle
   frontier, leaves file) against the hash chain it replaced (kept below as a minimal
   baseline: lock, read the last line back, chain, write, fsync), in the same run on the
   same disk. Target: ratio >= 0.8.
2. Inclusion and consistency proofs in trees of 1M and 10M leaves: size in bytes and time
   to make and verify one (median of many random leaves).
3. Export and verification of 100,000 records (one log, every record selected).

    .venv/bin/python -m bench.evidence --dir var/bench-evidence [--quick]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.export import Source, export
from evidence.keys import init_key
from evidence.merkle import MerkleTree, verify_consistency, verify_inclusion
from evidence.sealedlog import SealedLog
from evidence.verify import verify_export

GENESIS = "0" * 64


class PlainChain:
    """The baseline: the unsigned hash chain logs were before (one record, one fsync)."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, data: dict[str, Any]) -> str:
        when = datetime.now(UTC).isoformat(timespec="microseconds")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            prev, seq = self._tail(fd)
            line = json.dumps({"seq": seq, "at": when, "prev": prev, "data": data},
                              sort_keys=True, separators=(",", ":")).encode()
            os.write(fd, line + b"\n")
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return hashlib.sha256(line).hexdigest()

    @staticmethod
    def _tail(fd: int) -> tuple[str, int]:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            return GENESIS, 1
        pos, buf = size, b""
        while pos > 0:
            step = min(4096, pos)
            pos -= step
            buf = os.pread(fd, step, pos) + buf
            body = buf.rstrip(b"\n")
            if b"\n" in body or pos == 0:
                last = body.rsplit(b"\n", 1)[-1]
                return hashlib.sha256(last).hexdigest(), int(json.loads(last)["seq"]) + 1
        return GENESIS, 1


def record(i: int) -> dict[str, Any]:
    return {"type": "observation", "infohash": f"{i % 97:040x}", "ip": f"127.0.{i % 250}.1",
            "port": 6881 + i % 1000, "level": 1 + i % 3, "probe_id": "bench"}


def bench_appends(folder: Path, n: int, rounds: int) -> float:
    rates: dict[str, list[float]] = {"chain": [], "sealed": []}
    ratios = []
    for r in range(rounds):
        # Interleaved in short alternating slices, so both see the same (shared) disk.
        logs: dict[str, Any] = {"chain": PlainChain(folder / f"chain-{r}.jsonl"),
                                "sealed": SealedLog(folder / f"sealed-{r}.jsonl", "bench")}
        spent = {"chain": 0.0, "sealed": 0.0}
        for start in range(0, n, 100):
            order = ("chain", "sealed") if (start // 100) % 2 == 0 else ("sealed", "chain")
            for kind in order:
                t0 = time.perf_counter()
                for i in range(start, min(n, start + 100)):
                    logs[kind].append(record(i))
                spent[kind] += time.perf_counter() - t0
        for kind in spent:
            rates[kind].append(n / spent[kind])
        ratios.append(spent["chain"] / spent["sealed"])
    chain, sealed = statistics.median(rates["chain"]), statistics.median(rates["sealed"])
    ratio = statistics.median(ratios)
    print(f"appends/s (fsync each, {n} x {rounds} rounds): plain chain {chain:,.0f}, "
          f"sealed log {sealed:,.0f}; ratio sealed/chain = {ratio:.2f} (median of rounds "
          f"{', '.join(f'{x:.2f}' for x in ratios)}; target >= 0.80)")
    return ratio


def bench_proofs(sizes: list[int], samples: int) -> None:
    rng = random.Random(7)
    previous = None
    for size in sizes:
        start = time.perf_counter()
        tree = MerkleTree()
        for i in range(size):
            tree.append(hashlib.sha256(i.to_bytes(8, "big")).digest())
        built = time.perf_counter() - start
        root = tree.root()
        make, check, lengths, cmake, ccheck, clengths = [], [], [], [], [], []
        for _ in range(samples):
            index = rng.randrange(size)
            t0 = time.perf_counter()
            proof = tree.inclusion_proof(index)
            t1 = time.perf_counter()
            assert verify_inclusion(index, size, tree.leaf(index), proof, root)
            t2 = time.perf_counter()
            make.append(t1 - t0)
            check.append(t2 - t1)
            lengths.append(32 * len(proof))
            first = rng.randrange(1, size)
            t0 = time.perf_counter()
            cproof = tree.consistency_proof(first)
            t1 = time.perf_counter()
            assert verify_consistency(first, size, tree.root(first), root, cproof)
            t2 = time.perf_counter()
            cmake.append(t1 - t0)
            ccheck.append(t2 - t1)
            clengths.append(32 * len(cproof))
        med = statistics.median(make) * 1e6
        print(f"{size:>11,} leaves (built in {built:.1f}s): inclusion proof {max(lengths)} B max, "
              f"make {med:.0f} µs, verify {statistics.median(check) * 1e6:.0f} µs; "
              f"consistency proof {max(clengths)} B max, make "
              f"{statistics.median(cmake) * 1e6:.0f} µs, verify "
              f"{statistics.median(ccheck) * 1e6:.0f} µs")
        if previous is not None:
            print(f"    ratio of inclusion-proof time {size:,} / {previous[0]:,} leaves: "
                  f"{med / previous[1]:.2f} (log-size growth would be "
                  f"{(size.bit_length()) / previous[0].bit_length():.2f})")
        previous = (size, med)
        del tree


def bench_export(folder: Path, n: int) -> None:
    data = folder / "data"
    key = init_key(folder / "key.pem", data)
    log = SealedLog(data / "evidence" / "bench.jsonl", "probe/bench")
    batch = 1000
    for start in range(0, n, batch):
        log.append_many([record(i) for i in range(start, min(n, start + batch))])
        if start % 20_000 == 0:
            log.seal(key)
    log.seal(key)
    out = folder / "export"
    t0 = time.perf_counter()
    manifest = export([Source(log, lambda _r: True)], out, key=key, data_dir=data,
                      tool_version="bench", config_sha256="0" * 64, selector={"all": "bench"})
    t1 = time.perf_counter()
    report = verify_export(out, key.public)
    t2 = time.perf_counter()
    assert report.ok and manifest["records"] == n, report.problems[:3]
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"export of {n:,} records: {t1 - t0:.1f}s ({n / (t1 - t0):,.0f} records/s, "
          f"{size / 1e6:.0f} MB); verify: {t2 - t1:.1f}s ({n / (t2 - t1):,.0f} records/s); "
          f"ratio verify/export = {(t2 - t1) / (t1 - t0):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("var/bench-evidence"))
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--export-records", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="1M leaves only, 20k exported.")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes in a temporary dir")
    args = parser.parse_args()
    if args.smoke:
        smoke_dir = tempfile.mkdtemp(prefix="bench-evidence-")
        args.dir = Path(smoke_dir) / "run"
        args.appends, args.rounds = 50, 1
    if args.dir.exists():
        shutil.rmtree(args.dir)
    args.dir.mkdir(parents=True)
    bench_appends(args.dir, args.appends, args.rounds)
    if args.smoke:
        bench_proofs([10_000], samples=20)
        bench_export(args.dir, 500)
        shutil.rmtree(smoke_dir)
        return
    bench_proofs([1_000_000] if args.quick else [1_000_000, 10_000_000], samples=500)
    bench_export(args.dir, 20_000 if args.quick else args.export_records)
    shutil.rmtree(args.dir)


if __name__ == "__main__":
    main()
