"""The investigators' analysis benchmarks, each part in its own module, run one after the
other: pivot queries (:mod:`bench.analysis_pivots`), incremental clustering
(:mod:`bench.analysis_clusters`) and retro-hunt (:mod:`bench.analysis_hunt`). Each prints its
figures against its naive baseline measured in the same run. ``--smoke`` runs every part at
its tiny size (seconds); ``--only NAME`` runs one part.

    .venv/bin/python -m bench.analysis [--smoke] [--only pivots|clusters|hunt]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

PARTS = ("pivots", "clusters", "hunt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: seconds.")
    parser.add_argument("--only", choices=PARTS, help="Run this part only.")
    args = parser.parse_args()
    failed = []
    for part in (args.only,) if args.only else PARTS:
        print(f"== analysis: {part}", flush=True)
        done = subprocess.run([sys.executable, "-m", f"bench.analysis_{part}",
                               *(["--smoke"] if args.smoke else [])], check=False)
        if done.returncode:
            failed.append(part)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
