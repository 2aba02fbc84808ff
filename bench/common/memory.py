"""Resident memory as the benchmarks print it: this process's now, and its own peak."""

from __future__ import annotations

import psutil

from telemetry.native_memory import peak_resident_kb


def rss_mb() -> float:
    """This process's resident memory now, MiB."""
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """This process's resident high-water mark, MiB (its own, not its parent's: VmHWM)."""
    return peak_resident_kb() / 1024
