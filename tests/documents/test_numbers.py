"""Numbers in documents are strict: written as numbers of the field's type, within 64 bits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from documents import parse_document
from errors import InvalidDocument
from heroes.ingest import read_jsonl

NOW = "2026-11-29T12:00:00Z"
OBSERVATION = {"kind": "observation", "infohash": "a" * 40, "ip": "127.0.0.1", "port": 6881,
               "first_seen": NOW, "last_seen": NOW}
PAGE = {"kind": "page", "url": "http://market1.onion/item", "fetched_at": NOW}
TORRENT = {"kind": "torrent", "infohash": "b" * 40, "first_seen": NOW}
WHOLE = "expected a whole number (a JSON integer, not a string, bool or fraction)"
RANGE = "whole number out of range: the index stores -2^63 .. 2^63-1"


@pytest.mark.parametrize(
    ("doc", "field", "value", "message"),
    [
        (OBSERVATION, "port", "6881", WHOLE),
        (OBSERVATION, "port", 6881.0, WHOLE),
        (OBSERVATION, "level", True, WHOLE),
        (OBSERVATION, "verified_pieces", [1, "2"], WHOLE),
        (OBSERVATION, "have_fraction", "0.5",
         "expected a number (a JSON number, not a string or bool)"),
        (OBSERVATION, "clock_offset_s", float("inf"), "expected a finite number"),
        (PAGE, "status", "200", WHOLE),
        (PAGE, "size", 2**63, RANGE),
        (PAGE, "size", -(2**63) - 1, RANGE),
        (TORRENT, "total_size", 99_999_999_999_999_999_999, RANGE),
        (TORRENT, "swarm_peers", "3", WHOLE),
    ],
)
def test_a_number_in_the_wrong_form_is_refused_naming_the_field(
    doc: dict[str, Any], field: str, value: Any, message: str
) -> None:
    with pytest.raises(InvalidDocument) as info:
        parse_document({**doc, field: value})
    text = str(info.value)
    where = f"{field}.1" if isinstance(value, list) else field
    assert text.startswith(f"{where}: {message}"), text
    shown = value[1] if isinstance(value, list) else value
    assert repr(shown)[:40] in text


@pytest.mark.parametrize(
    ("doc", "field", "value"),
    [
        (OBSERVATION, "port", 6881),
        (OBSERVATION, "have_fraction", 1),  # an integer is a number
        (OBSERVATION, "clock_offset_s", -0.25),
        (OBSERVATION, "verified_pieces", [0, 7]),
        (PAGE, "size", 2**63 - 1),
        (PAGE, "size", -(2**63)),
        (TORRENT, "total_size", 0),
    ],
)
def test_numbers_of_the_right_form_are_kept(doc: dict[str, Any], field: str, value: Any) -> None:
    parsed = parse_document({**doc, field: value})
    assert getattr(parsed, field) == value
    assert parse_document(parsed.source()) == parsed  # and survive the round trip


def test_ingest_names_the_line_and_field_of_a_lax_number(tmp_path: Path) -> None:
    src = tmp_path / "docs.jsonl"
    src.write_text(
        '{"kind": "observation", "infohash": "' + "a" * 40 + '", "ip": "127.0.0.1", '
        '"port": "6881", "first_seen": "' + NOW + '", "last_seen": "' + NOW + '"}\n'
        '{"kind": "page", "url": "http://market1.onion/", "fetched_at": "' + NOW + '", '
        '"size": 12345678901234567890}\n'
        '{"kind": "page", "url": "http://market2.onion/", "fetched_at": "' + NOW + '", '
        '"size": 1234}\n'
    )
    problems: list[str] = []
    docs: list[Any] = []

    def sink(batch: Any) -> int:
        docs.extend(batch)
        return len(batch)

    read_jsonl(src, sink, max_bytes=100_000, on_problem=problems.append)
    assert [d.url for d in docs] == ["http://market2.onion/"]
    assert len(problems) == 2
    assert problems[0].startswith(f"{src}:1: port: {WHOLE}"), problems
    assert problems[1].startswith(f"{src}:2: size: {RANGE}"), problems
