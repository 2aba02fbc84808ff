"""Pure grading of peer sightings: sources, client names, piece fractions and levels.

Levels (the evidence ladder): 0 an address reported by a tracker, the DHT or PEX only;
1 the peer completed a BitTorrent handshake for this infohash; 2 the peer announced pieces
(bitfield, HAVE or HAVE_ALL); 3 pieces verified from this one peer (``monitors.verify``).
When the peer's messages are captured (:mod:`monitors.artifacts`), a sighting claims no
level those messages do not prove, and carries them. Reads no settings.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitors.artifacts import ConnectionArtifacts, justified_level

# peer_info.source bits, as libtorrent defines them.
SOURCE_BITS = {1: "tracker", 2: "dht", 4: "pex", 8: "lsd", 16: "resume_data"}
# peer_info.flags bits.
FLAG_SUPPORTS_EXTENSIONS = 16
FLAG_OUTGOING = 32
FLAG_HANDSHAKE = 64  # still in the handshake
FLAG_CONNECTING = 128  # TCP/uTP connect not finished
FLAG_SEED = 1024

LEVEL_REPORTED = 0
LEVEL_HANDSHAKE = 1
LEVEL_PIECES = 2
LEVEL_VERIFIED = 3


def sources_of(bits: int, *, outgoing: bool) -> list[str]:
    """Names of the source bits; a peer that dialled us with no other source is ``incoming``."""
    names = [name for bit, name in SOURCE_BITS.items() if bits & bit]
    if not names and not outgoing:
        names.append("incoming")
    return names


def have_fraction(pieces: Sequence[bool], num_pieces: int | None, seed: bool) -> float | None:
    """The fraction of pieces a peer claims, or None when it cannot be known yet.

    Without metadata libtorrent hands over the raw bitfield padded to a byte boundary, so
    only the first ``num_pieces`` bits count; HAVE_ALL leaves the bitfield empty and sets
    the seed flag instead.
    """
    if seed:
        return 1.0
    if not num_pieces:
        return None
    have = sum(1 for bit in list(pieces)[:num_pieces] if bit)
    return round(have / num_pieces, 6)


def level_of(flags: int, pieces: Sequence[bool]) -> int:
    """The level a connected peer has reached."""
    if flags & (FLAG_CONNECTING | FLAG_HANDSHAKE):
        return LEVEL_REPORTED
    if flags & FLAG_SEED or any(pieces):
        return LEVEL_PIECES
    return LEVEL_HANDSHAKE


def decode_client(peer_id: bytes) -> str:
    """The client named by a peer id (Azureus or Shad0w style), '' when unknown."""
    if len(peer_id) != 20 or peer_id == bytes(20):
        return ""
    import libtorrent as lt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        name = lt.identify_client(lt.sha1_hash(peer_id))
    return "" if name.lower().startswith("unknown") else name


@dataclass(frozen=True)
class Sighting:
    """One peer of one target as seen at one moment."""

    key: str  # the target's key (v1 hex, else v2 hex)
    ip: str
    port: int
    at: datetime
    sources: frozenset[str] = field(default_factory=frozenset)
    level: int = LEVEL_REPORTED
    peer_id: str = ""
    client: str = ""
    ext_v: str = ""
    have_fraction: float | None = None
    seed: bool = False
    have_bits: tuple[bool, ...] = ()
    # The peer's messages behind the level (ConnectionArtifacts.to_json), when captured.
    artifacts: dict[str, Any] | None = field(default=None, compare=False, hash=False)


def sighting_from_peer_info(key: str, info: Any, num_pieces: int | None, at: datetime,
                            artifacts: ConnectionArtifacts | None = None, *,
                            captured: bool = False) -> Sighting:
    """Grade a libtorrent ``peer_info`` of a connected peer.

    With ``captured``, ``artifacts`` holds what the peer sent on this connection (None:
    nothing yet), and the level is capped at what those messages prove.
    """
    ip, port = info.ip
    flags = int(info.flags)
    pieces = tuple(bool(b) for b in info.pieces)
    seed = bool(flags & FLAG_SEED)
    level = level_of(flags, pieces)
    if captured:
        level = justified_level(level, artifacts)
    pid = bytes(info.pid.to_bytes()) if level else b""
    raw_client = info.client
    client_v = (raw_client.decode("utf-8", "replace") if isinstance(raw_client, bytes)
                else str(raw_client))
    return Sighting(
        key=key, ip=ip, port=port, at=at,
        sources=frozenset(sources_of(int(info.source), outgoing=bool(flags & FLAG_OUTGOING))),
        level=level,
        peer_id=pid.hex() if pid else "",
        client=decode_client(pid) if pid else "",
        # libtorrent reports the extended handshake's v here when the peer sent one.
        ext_v=client_v if level and flags & FLAG_SUPPORTS_EXTENSIONS else "",
        have_fraction=have_fraction(pieces, num_pieces, seed) if level >= LEVEL_PIECES else None,
        seed=seed,
        have_bits=pieces,
        artifacts=artifacts.to_json(num_pieces) if captured and artifacts and level else None,
    )
