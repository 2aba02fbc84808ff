"""A process that appends to a sealed log under a running sealer until it is killed.

``python -m tests.evidence.crash_child LOG KEY INTERVAL [--once]`` prints ``appended N``
after each durable append and ``sealed N`` after each head; with ``--once`` it only runs the
sealer's start round and its clean stop, then exits.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

from evidence.keys import load_signing_key
from evidence.sealedlog import SealedLog
from evidence.sealer import Sealer

# The sealer prints from its worker thread, the appender from the loop: one line at a time, or
# print's text and newline of two lines interleave ("appended 454sealed 450").
_PRINT = threading.Lock()


def say(line: str) -> None:
    with _PRINT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Printing(Sealer):
    def seal_once(self):  # type: ignore[no-untyped-def]
        heads = super().seal_once()
        for head in heads:
            say(f"sealed {head.size}")
        return heads


async def main() -> None:
    path, key_file, interval = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    log = SealedLog(path, "crash").open()
    for message in log.repairs:
        say(f"repaired {message}")
    sealer = Printing([log], load_signing_key(key_file), interval)
    if "--once" in sys.argv:
        sealer.seal_once()
        sealer.close()
        return
    stop = asyncio.Event()
    task = asyncio.create_task(sealer.run(stop))
    n = 0
    while True:
        n += 1
        record = await asyncio.to_thread(log.append, {"n": n, "text": "x" * 200})
        say(f"appended {record['seq']}")
        await asyncio.sleep(0)
    await task  # pragma: no cover


if __name__ == "__main__":
    asyncio.run(main())
