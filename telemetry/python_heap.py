"""A process's Python heap: how often the cyclic garbage collector runs.

Reference counting frees almost everything heroes allocates; the cyclic collector only
finds cycles. At CPython's default thresholds (700, 10, 10) it runs a young collection
every 700 net allocations and a full one, which walks every object the process holds, as
often as every 70,000. Validating and converting pages allocates tens of objects a page that
live until their batch is written, so the drain and the spool's appends ran full walks over
and over. Measured with ``python -m bench.index --docs 100000`` (batches of 10,000;
``--gc-default`` for the defaults), two runs each: appends 15,900 and 15,800 documents/s at
the defaults, 22,400 and 21,500 at the thresholds below; the drain 4,740 and 4,770 against
6,040 and 6,310; resident memory no higher. Here a young collection runs every 50,000
allocations and a full one at most every ten million; cyclic garbage waits longer for its
collection, at most what 50,000 allocations hold.

Set once per process by the ``heroes`` executable (:func:`heroes.cli.entry`), before the
command runs.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 10)


def tune_garbage_collector(thresholds: tuple[int, int, int] = THRESHOLDS) -> None:
    """Run the cyclic collector at ``thresholds`` (see :func:`gc.set_threshold`)."""
    gc.set_threshold(*thresholds)
