"""A process's native memory: fewer glibc malloc arenas, and its own resident peak.

:func:`limit_malloc_arenas` keeps native memory that was freed in use.

The index writers (tantivy) and the video decoder allocate from threads of their own;
glibc gives each thread that meets contention an arena of its own (up to eight per core) and
keeps what an arena freed for that arena, so a process whose drain commits several times a
second grows with every commit. Measured with ten tantivy writers committing 2,000 small
batches: 273 MB resident with glibc's default arenas, 74 MB with two; the lab crawl with its
drain peaked at 480 MB instead of 342 MB. An operator's own ``MALLOC_ARENA_MAX`` is left as it
is (glibc read it at start). On a C library without ``mallopt`` (musl) nothing is done.

:func:`peak_resident_kb` is the process's own high-water mark (``VmHWM``): the
``ru_maxrss`` of ``getrusage`` survives exec, so a process started by a big one reports at
least its parent's size (a crawl started by a test session of 650 MB "peaked" at 650 MB).
"""

from __future__ import annotations

import ctypes
import os
import resource
from collections.abc import Mapping
from pathlib import Path

# glibc's M_ARENA_MAX parameter of mallopt(3).
M_ARENA_MAX = -8
ARENAS = 2


def limit_malloc_arenas(environ: Mapping[str, str] = os.environ, arenas: int = ARENAS) -> bool:
    """Cap the number of malloc arenas; True if the cap was set. Call it before threads start:
    arenas made before the call stay."""
    if "MALLOC_ARENA_MAX" in environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))


def peak_resident_kb() -> int:
    """This process's resident high-water mark in KiB (``ru_maxrss`` where there is no
    ``/proc``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
