"""The process a benchmark measures in: set up as the ``heroes`` executable sets up its own."""

from __future__ import annotations

import argparse
import gc

from telemetry.python_heap import tune_garbage_collector


def add_gc_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gc-default", action="store_true",
                        help="keep CPython's collector thresholds instead of heroes' own")


def as_heroes_runs(args: argparse.Namespace) -> None:
    """The collector at heroes' thresholds unless ``--gc-default``; prints which."""
    if not args.gc_default:
        tune_garbage_collector()
    print(f"cyclic collector thresholds {gc.get_threshold()}")
