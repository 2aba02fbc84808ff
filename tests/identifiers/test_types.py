"""Each identifier type against its own examples: canonical forms, display, errors, finding."""

from __future__ import annotations

import pytest

from identifiers import (
    IDENTIFIERS,
    DuplicateIdentifier,
    Identifier,
    IdentifierRegistry,
    InvalidIdentifier,
    UnknownIdentifier,
    display,
    normalize_for_field,
)
from identifiers.registry import BUILTIN
from tests.identifiers.examples import IN_TEXT, INVALID, SPELLINGS, case_id

EXPECTED = {
    "onion", "btc", "xmr", "eth", "email", "pgp", "phone", "magnet", "infohash",
    "infohash_v1", "infohash_v2", "md5", "sha1", "sha256", "pdq", "vpdq", "keyword",
}


def test_every_type_is_registered_and_ships_examples() -> None:
    assert set(IDENTIFIERS.names()) == EXPECTED
    for t in IDENTIFIERS:
        assert t.spellings and t.invalid, t.name
        assert t.description, t.name


@pytest.mark.parametrize(("name", "raw", "canonical"), SPELLINGS, ids=case_id)
def test_each_spelling_parses_to_the_canonical_form(name: str, raw: str, canonical: str) -> None:
    kind = IDENTIFIERS.get(name)
    assert kind.parse(raw) == canonical
    assert kind.is_valid(raw)
    # Canonical is a fixed point, and what is displayed parses back to it.
    assert kind.parse(canonical) == canonical
    assert kind.parse(kind.display(canonical)) == canonical
    assert display(name, raw) == kind.display(canonical)


@pytest.mark.parametrize(("name", "raw", "why"), INVALID, ids=case_id)
def test_invalid_values_are_refused_saying_why(name: str, raw: str, why: str) -> None:
    kind = IDENTIFIERS.get(name)
    with pytest.raises(InvalidIdentifier) as info:
        kind.parse(raw)
    message = str(info.value)
    assert why in message
    assert repr(raw)[:20] in message
    assert not kind.is_valid(raw)
    assert kind.find(f"text {raw} text") == []


@pytest.mark.parametrize(("name", "text", "found"), IN_TEXT, ids=case_id)
def test_find_keeps_only_valid_values_in_canonical_form(
    name: str, text: str, found: tuple[str, ...]
) -> None:
    kind = IDENTIFIERS.get(name)
    got = kind.find(text)
    assert tuple(got) == found
    if name != "magnet":  # a magnet is reported as written; its infohashes are its identity
        assert all(kind.parse(v) == v for v in got)


def test_eth_displays_eip55_and_stores_lower_case() -> None:
    eth = IDENTIFIERS.get("eth")
    assert eth.parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") == (
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    assert eth.display("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")


def test_a_hybrid_magnet_names_both_infohashes() -> None:
    from identifiers.infohash import infohashes_of
    from identifiers.magnet import parse_magnet

    v1, v2 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a", "ab" * 32
    link = f"magnet:?xt=urn:btmh:1220{v2}&xt=urn:btih:{v1.upper()}&dn=a%20b&tr=udp%3A%2F%2Ft"
    parsed = parse_magnet(link)
    assert (parsed.v1, parsed.v2, parsed.name, parsed.trackers) == ((v1,), (v2,), "a b", ("udp://t",))
    assert parsed.infohashes == (v1, v2)
    assert infohashes_of(link) == (v1, v2)
    assert infohashes_of(v1.upper()) == (v1,)


def test_normalize_for_field_passes_other_values_through() -> None:
    assert normalize_for_field("eth", "0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED") == (
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    assert normalize_for_field(None, "Anything") == "Anything"
    assert normalize_for_field("btc", "1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == (
        "1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert normalize_for_field("md5", 5) == 5


def test_registry_refuses_a_duplicate_name_at_construction() -> None:
    class Other(Identifier):
        name = "eth"

    with pytest.raises(DuplicateIdentifier, match=r"'eth'.*EthIdentifier.*Other"):
        IdentifierRegistry([*BUILTIN, Other])


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownIdentifier, match=r"'crc32'.*onion"):
        IDENTIFIERS.get("crc32")


def test_identifiers_import_only_errors_and_libraries() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    own = {p.name.removesuffix(".py") for p in root.iterdir() if p.is_dir() or p.suffix == ".py"}
    offenders = []
    for path in (root / "identifiers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in own and top not in ("identifiers", "errors"):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


@pytest.mark.parametrize(
    ("type_name", "typed", "prefix"),
    [
        ("eth", "0x5AAEb6", "0x5aaeb6"),
        ("btc", "BC1QW508", "bc1qw508"),
        ("btc", "1A1zP1eP", "1A1zP1eP"),  # base58: case-sensitive, as typed
        ("xmr", "4AdUndXH", "4AdUndXH"),
        ("onion", "http://AAAQEAYE", "aaaqeaye"),
        ("email", "mailto:Trader@EX", "trader@ex"),
        ("md5", "0XD41D8C", "d41d8c"),
        ("sha256", "E3B0C4", "e3b0c4"),
        ("pdq", "FFAB", "ffab"),
        ("infohash", "urn:btih:C12FE1", "c12fe1"),
        ("infohash_v2", "urn:btmh:1220ABAB", "abab"),
        ("pgp", "c859 7336", "C8597336"),
        ("phone", "+49 30", "+49 30"),
    ],
)
def test_normalize_prefix_brings_a_part_of_a_value_to_the_canonical_case(
    type_name: str, typed: str, prefix: str
) -> None:
    assert IDENTIFIERS.get(type_name).normalize_prefix(typed) == prefix


def test_normalize_prefix_for_field_keeps_what_would_become_empty() -> None:
    from identifiers import normalize_prefix_for_field

    assert normalize_prefix_for_field("md5", "0x") == "0x"
    assert normalize_prefix_for_field(None, "ABC") == "ABC"
    assert normalize_prefix_for_field("eth", "0XAB") == "0xab"
