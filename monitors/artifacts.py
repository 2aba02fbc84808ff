"""Raw protocol artifacts: the peer's own messages that justify an observation's level.

libtorrent reports every message a peer sends through ``peer_log_alert`` (alert category
``peer_log``); this module turns those log lines into the record of one connection:

* ``handshake`` (level 1): the protocol string, the 8 reserved bytes as received (hex and
  the extension names libtorrent read from them), the peer id as received (hex and
  printable form) and the infohash of the torrent the handshake attached to. libtorrent logs
  the received infohash only as "info_hash received": a connection whose infohash names no
  torrent it holds is closed before this point, so the attached torrent's hash is the one
  the peer sent.
* ``ext_handshake``: the extended handshake (BEP 10) as libtorrent printed the received
  dictionary (the bindings do not expose its bencoded bytes), with the fields parsed from
  that text when it parses.
* ``bitfield``, ``have_all``, ``have_none``, ``have`` and ``dont_have`` (level 2): the
  bitfield as received, and summaries of HAVE/DONT_HAVE messages (count, first and last
  time); ``pieces`` is the resulting piece map and ``fraction`` the share of pieces it
  implies (once the piece count is known).

Every entry carries its receive time (UTC, ISO 8601). The watcher never asks for more than
the peer volunteers: recording these messages sends nothing. Pure: reads no settings.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# "<torrent> peer <endpoint> <== BITFIELD [ 1100... ]": direction arrow, event, text.
_PREFIX = re.compile(r" (?P<dir><==|==>|<<<|>>>|\*\*\*) (?P<event>[A-Z0-9_]+) $")
_PEER_ID = re.compile(r"received peer_id: (?P<hex>[0-9a-f]{40}) client: (?P<client>.*?)"
                      r"(?: ascii: \"(?P<ascii>.*)\")?$")
_PIECE = re.compile(r"piece: (?P<index>\d+)")
_BITS = re.compile(r"^[01]+$")
INCOMING = ("<==", "<<<")
# The events kept; everything else in the peer log is libtorrent's own bookkeeping.
KEPT = {"HANDSHAKE", "EXTENSIONS", "EXTENDED_HANDSHAKE", "BITFIELD", "HAVE", "HAVE_ALL",
        "HAVE_NONE", "DONT_HAVE"}
# A HAVE for a piece beyond this is not believed (no torrent has that many pieces).
MAX_PIECE_INDEX = 1 << 21
LEVEL_HANDSHAKE = 1
LEVEL_PIECES = 2


@dataclass(frozen=True)
class LogEvent:
    """One line of libtorrent's peer log."""

    direction: str  # <== / <<< incoming, ==> / >>> outgoing, *** libtorrent's own note
    event: str
    text: str


def parse_log(message: str, text: str) -> LogEvent | None:
    """Split a ``peer_log_alert``'s ``message()`` (with its ``log_message()`` ``text``).

    The torrent name at the start may hold anything, so the line is read from its end:
    ``... <dir> <EVENT> [ <text> ]``. None when the line has another shape.
    """
    tail = f"[ {text} ]"
    if not message.endswith(tail):
        return None
    found = _PREFIX.search(message[: len(message) - len(tail)])
    if found is None:
        return None
    return LogEvent(found["dir"], found["event"], text)


def bits_to_hex(bits: str) -> str:
    """A string of '0'/'1' (wire order, most significant bit first) as hex bytes."""
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit == "1":
            out[i // 8] |= 0x80 >> (i % 8)
    return out.hex()


def parse_printed_dict(text: str) -> dict[str, Any] | None:
    """The fields of a dictionary as libtorrent prints it (``{ 'v': 'x', 'p': 1 }``).

    The printed form does not escape quotes inside strings, so a hostile value can make it
    unreadable: then None, and the printed text alone is kept.
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) and _plain(value) else None


def _plain(value: Any) -> bool:
    """Only what JSON holds: a crafted value could make literal_eval build a set or bytes."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def canonical_sha256(value: Any) -> str:
    """SHA-256 of the canonical JSON form (sorted keys, no spaces, UTF-8)."""
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass
class _Summary:
    count: int = 0
    first: str = ""
    last: str = ""

    def note(self, at: str) -> None:
        self.count += 1
        self.first = self.first or at
        self.last = at

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "first": self.first, "last": self.last}


@dataclass
class ConnectionArtifacts:
    """What one peer sent on one connection, built from its peer-log lines."""

    info_hash: str
    handshake: dict[str, Any] = field(default_factory=dict)
    ext_handshake: dict[str, Any] | None = None
    bitfield: dict[str, Any] | None = None
    have_all: str = ""
    have_none: str = ""
    have: _Summary = field(default_factory=_Summary)
    dont_have: _Summary = field(default_factory=_Summary)
    _pieces: set[int] = field(default_factory=set)

    def feed(self, event: LogEvent, at: datetime) -> None:
        """Take one incoming log line received at ``at``; other lines are ignored."""
        if event.direction not in INCOMING or event.event not in KEPT:
            return
        when = at.isoformat()
        text = event.text.strip()
        if event.event == "HANDSHAKE":
            self._handshake(text, when)
        elif event.event == "EXTENSIONS":
            bits, _, names = text.partition(" ext: ")
            if _BITS.match(bits):
                self.handshake["reserved"] = bits_to_hex(bits)
                self.handshake["extensions"] = names.strip()
        elif event.event == "EXTENDED_HANDSHAKE":
            self.ext_handshake = {"at": when, "printed": text,
                                  "fields": parse_printed_dict(text)}
        elif event.event == "BITFIELD" and _BITS.match(text):
            self.bitfield = {"at": when, "bits": bits_to_hex(text), "length": len(text),
                             "count": text.count("1")}
            self._pieces = {i for i, bit in enumerate(text) if bit == "1"}
        elif event.event == "HAVE_ALL":
            self.have_all = self.have_all or when
        elif event.event == "HAVE_NONE":
            self.have_none = self.have_none or when
            self._pieces = set()
        elif event.event in ("HAVE", "DONT_HAVE"):
            piece = _PIECE.search(text)
            if piece is None:
                return
            index = int(piece["index"])
            if index >= MAX_PIECE_INDEX:
                return
            if event.event == "HAVE":
                self.have.note(when)
                self._pieces.add(index)
            else:
                self.dont_have.note(when)
                self._pieces.discard(index)

    def _handshake(self, text: str, when: str) -> None:
        if text == "BitTorrent protocol":
            self.handshake.update({"at": when, "protocol": text, "info_hash": self.info_hash})
            return
        peer = _PEER_ID.match(text)
        if peer is not None:
            self.handshake.update({"peer_id": peer["hex"], "peer_id_ascii": peer["ascii"] or "",
                                   "client": peer["client"].strip(), "peer_id_at": when})

    @property
    def announced_pieces(self) -> bool:
        return bool(self.have_all or self._pieces or self.have.count)

    def fraction(self, num_pieces: int | None) -> float | None:
        """The share of pieces these messages claim (the same rule as ``have_fraction``)."""
        if self.have_all:
            return 1.0
        if not num_pieces:
            return None
        return round(len({i for i in self._pieces if i < num_pieces}) / num_pieces, 6)

    def to_json(self, num_pieces: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {"handshake": dict(self.handshake)}
        if self.ext_handshake is not None:
            out["ext_handshake"] = dict(self.ext_handshake)
        if self.bitfield is not None:
            out["bitfield"] = dict(self.bitfield)
        if self.have_all:
            out["have_all"] = {"at": self.have_all}
        if self.have_none:
            out["have_none"] = {"at": self.have_none}
        if self.have.count:
            out["have"] = self.have.to_json()
        if self.dont_have.count:
            out["dont_have"] = self.dont_have.to_json()
        if self.announced_pieces or self.have_none:
            length = max([num_pieces or 0, *(i + 1 for i in self._pieces)])
            out["pieces"] = {"bits": bits_to_hex("".join(
                "1" if i in self._pieces else "0" for i in range(length))),
                "num_pieces": num_pieces, "fraction": self.fraction(num_pieces)}
        return out


def justified_level(level: int, artifacts: ConnectionArtifacts | None) -> int:
    """The highest level, up to ``level``, that the recorded messages prove."""
    if artifacts is None or "peer_id" not in artifacts.handshake:
        return 0
    if level >= LEVEL_PIECES and not artifacts.announced_pieces:
        return LEVEL_HANDSHAKE
    return level
