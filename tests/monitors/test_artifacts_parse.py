"""Unit tests of the peer-log parser and the per-connection artifacts (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitors.artifacts import (
    ConnectionArtifacts,
    LogEvent,
    bits_to_hex,
    canonical_sha256,
    justified_level,
    parse_log,
    parse_printed_dict,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
IH = "ab" * 20
PEER_ID = "2d4445323131302d577e457167502a6930725321"


def line(direction: str, event: str, text: str, torrent: str = "5040c1") -> tuple[str, str]:
    return f"{torrent} peer 127.0.0.4:6881 {direction} {event} [ {text} ]", text


def feed(conn: ConnectionArtifacts, *lines: tuple[str, str]) -> None:
    for i, (message, text) in enumerate(lines):
        event = parse_log(message, text)
        assert event is not None, message
        conn.feed(event, T0 + timedelta(seconds=i))


HANDSHAKE = [
    line("<==", "HANDSHAKE", "BitTorrent protocol"),
    line("<==", "EXTENSIONS", "0000000000000000000000000000000000000000000100000000000000000101"
         " ext: DHT FAST extension "),
    line("<<<", "HANDSHAKE", "info_hash received"),
    line("<<<", "HANDSHAKE", f'received peer_id: {PEER_ID} client: Deluge 2.1.1 '
         'ascii: "-DE2110-W~EqgP*i0rS!"'),
    line("<==", "EXTENDED_HANDSHAKE", "{ 'complete_ago': 5, 'm': { 'ut_pex': 1 }, "
         "'reqq': 2000, 'v': 'Deluge 2.1.1', 'yourip': '7f000032' }"),
]


def test_parse_log_reads_the_line_from_its_end() -> None:
    # A torrent name may contain anything, even something that looks like an event.
    message, text = line("<==", "BITFIELD", "1100", torrent="x <== HAVE [ odd")
    assert parse_log(message, text) == LogEvent("<==", "BITFIELD", "1100")
    assert parse_log("no brackets here", "x") is None
    assert parse_log("t peer 1.2.3.4:1 <== lower [ x ]", "x") is None


def test_bits_to_hex_is_wire_order() -> None:
    assert bits_to_hex("1") == "80"
    assert bits_to_hex("000000011") == "0180"
    assert bits_to_hex("") == ""


def test_handshake_and_extended_handshake() -> None:
    conn = ConnectionArtifacts(info_hash=IH)
    feed(conn, *HANDSHAKE)
    out = conn.to_json(None)
    hs = out["handshake"]
    assert hs["protocol"] == "BitTorrent protocol" and hs["info_hash"] == IH
    assert hs["reserved"] == "0000000000100005"
    assert hs["peer_id"] == PEER_ID and hs["peer_id_ascii"] == "-DE2110-W~EqgP*i0rS!"
    assert hs["client"] == "Deluge 2.1.1"
    assert hs["at"] == T0.isoformat()
    assert out["ext_handshake"]["fields"]["v"] == "Deluge 2.1.1"
    assert out["ext_handshake"]["fields"]["m"] == {"ut_pex": 1}
    assert "pieces" not in out  # nothing announced yet
    assert justified_level(2, conn) == 1
    assert justified_level(1, conn) == 1


def test_no_peer_id_means_level_0() -> None:
    conn = ConnectionArtifacts(info_hash=IH)
    feed(conn, HANDSHAKE[0])
    assert justified_level(1, conn) == 0
    assert justified_level(2, None) == 0


def test_bitfield_and_haves_imply_a_fraction() -> None:
    conn = ConnectionArtifacts(info_hash=IH)
    feed(conn, *HANDSHAKE, line("<==", "BITFIELD", "1100000000000000"),
         line("<==", "HAVE", "piece: 5"), line("<==", "HAVE", "piece: 6"),
         line("<==", "DONT_HAVE", "piece: 0"), line("<==", "HAVE", "piece: 99999999999"))
    out = conn.to_json(10)
    assert out["bitfield"] == {"at": (T0 + timedelta(seconds=5)).isoformat(), "bits": "c000",
                               "length": 16, "count": 2}
    assert out["have"] == {"count": 2, "first": (T0 + timedelta(seconds=6)).isoformat(),
                           "last": (T0 + timedelta(seconds=7)).isoformat()}
    assert out["dont_have"]["count"] == 1
    # pieces 1, 5, 6 of 10 (the bits past the piece count are padding)
    assert out["pieces"] == {"bits": "4600", "num_pieces": 10, "fraction": 0.3}
    assert justified_level(2, conn) == 2
    assert conn.to_json(None)["pieces"]["fraction"] is None


def test_have_all_is_a_whole_copy() -> None:
    conn = ConnectionArtifacts(info_hash=IH)
    feed(conn, *HANDSHAKE, line("<==", "HAVE_ALL", ""))
    assert conn.to_json(None)["pieces"]["fraction"] == 1.0
    assert justified_level(2, conn) == 2


def test_outgoing_and_other_lines_are_ignored() -> None:
    conn = ConnectionArtifacts(info_hash=IH)
    feed(conn, line("==>", "BITFIELD", "1111"), line("<==", "UNCHOKE", ""),
         line("<<<", "READ", "12 bytes"))
    assert conn.to_json(4) == {"handshake": {}}


@pytest.mark.parametrize("text", [
    "{ 'v': 'a', 'x': {1, 2} }",  # a set: not JSON
    "{ 'v': 'it's' }",  # an unescaped quote
    "[ 1, 2 ]",
    "{ 1: 'x' }",
])
def test_unreadable_printed_dicts_keep_only_the_text(text: str) -> None:
    assert parse_printed_dict(text) is None


def test_canonical_hash_ignores_key_order() -> None:
    assert canonical_sha256({"a": 1, "b": [1, "é"]}) == canonical_sha256({"b": [1, "é"], "a": 1})
    assert canonical_sha256({"a": 1}) != canonical_sha256({"a": 2})
