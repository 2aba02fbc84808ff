"""Every benchmark still runs: ``python -m bench.X --smoke`` at tiny sizes, in a subprocess.

A benchmark that nothing runs rots (an import removed by a clean-up, a renamed function);
this runs each one the way ``make bench`` does, only small. The benchmarks that need a part
of the lab world carry that part's marker, so ``make test-fast`` leaves them out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Module -> the lab parts it brings up (pytest markers).
BENCHMARKS: dict[str, tuple[str, ...]] = {
    "access": ("tor", "browser"),
    "analysis": (),
    "analysis_clusters": (),
    "analysis_hunt": (),
    "analysis_pivots": (),
    "cluster": ("elasticsearch",),
    "console": (),
    "crawl": ("tor",),
    "discover": ("swarm",),
    "evidence": (),
    "extract": (),
    "frontier": (),
    "index": (),
    "index_es": ("elasticsearch",),
    "match": (),
    "peers": (),
    "probe": ("swarm",),
    "video": (),
}
# A hang guard, not a speed check: a smoke run takes seconds, the lab world a minute or two.
TIMEOUT_S = 900


def test_every_benchmark_is_listed() -> None:
    found = {p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__"}
    assert found == set(BENCHMARKS), "add new benchmarks to BENCHMARKS with their lab parts"


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(name, marks=[getattr(pytest.mark, m) for m in marks], id=name)
        for name, marks in BENCHMARKS.items()
    ],
)
def test_smoke_run(module: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, (
        f"bench.{module} --smoke exited {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    assert proc.stdout.strip(), f"bench.{module} --smoke printed no figures"
