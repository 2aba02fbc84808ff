"""The watcher's connection budget: a per-torrent cap so a few big swarms cannot take it all.

libtorrent keeps one global connection limit (``probe.max_connections``) and, by default,
no limit per torrent: with 100,000 targets, the few swarms with thousands of peers fill
every slot and the small ones (most flagged swarms) never get a connection. Each watched
torrent therefore gets ``max_connections`` = the global limit divided by the number of
targets, never below :data:`MIN_PER_TORRENT`: the floor keeps a connection for a
handshake (level 1) and one for an incoming peer, so every target can be reached while
the global limit still holds. The cap is recomputed whenever the number of targets
changes. Reads no settings: the watcher passes ``probe.max_connections``.
"""

from __future__ import annotations

# One outgoing handshake and one incoming peer at the same time. Never 0: libtorrent reads
# a per-torrent limit of 0 as "unlimited".
MIN_PER_TORRENT = 2


def per_torrent_cap(global_limit: int, targets: int, floor: int = MIN_PER_TORRENT) -> int:
    """Connections one torrent may hold when ``targets`` torrents share ``global_limit``.

    The fair share ``global_limit // targets``, at least ``floor`` (and at least 1); with no
    targets, the whole limit.
    """
    if global_limit < 1:
        raise ValueError(f"global connection limit must be at least 1 (got {global_limit!r})")
    floor = max(floor, 1)
    if targets <= 0:
        return max(global_limit, floor)
    return max(global_limit // targets, floor)
