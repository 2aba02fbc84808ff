"""Keep the probe's table of peers seen within ``probe.max_peers_in_memory``.

Every sighting that adds something is already recorded (spool and evidence log) when it is
kept in :attr:`monitors.recorder.Recorder.peers`; the table only saves re-recording what did
not change. Past the limit the least recently seen tenth is dropped from memory at once
(one sort per tenth, not one per sighting). A dropped peer seen again is recorded again,
and the index merges the two records into one observation. Pure; reads no settings.
"""

from __future__ import annotations

from typing import Any, Protocol


class _Seen(Protocol):
    last_seen: Any


def evict_oldest(peers: dict[Any, _Seen], limit: int) -> int:
    """Drop the least recently seen peers down to 90 % of ``limit``; returns how many."""
    if len(peers) <= limit:
        return 0
    keep = int(limit * 0.9)
    oldest = sorted(peers, key=lambda k: peers[k].last_seen)[: len(peers) - keep]
    for key in oldest:
        del peers[key]
    return len(oldest)
