"""Each entity finder with valid and invalid examples: a bad checksum is never an entity.

The finders are the identifier types' (:mod:`identifiers`); ``find_entities`` gathers them
under the page document's keys.
"""

from __future__ import annotations

import io
import random
import re
import tokenize
from pathlib import Path

import pytest

from crawler.extract.entities import ENTITY_KEYS, find_entities
from documents.page import ENTITY_TYPES
from identifiers import InvalidIdentifier
from identifiers.btc import BtcIdentifier, is_valid_base58_address, is_valid_segwit_address
from identifiers.email import EmailIdentifier
from identifiers.encodings import base58check_encode, segwit_encode
from identifiers.eth import EthIdentifier, is_valid_eth_address, to_checksum_address
from identifiers.magnet import MagnetIdentifier, parse_magnet, xt_infohash
from identifiers.onion import OnionIdentifier, is_valid_onion, onion_address
from identifiers.pgp import PgpIdentifier, armor, crc24
from identifiers.phone import MAX_CANDIDATES, PhoneIdentifier, candidates, normalize_phone
from identifiers.xmr import XmrIdentifier, is_valid_monero_address, monero_address

find_onions = OnionIdentifier().find
find_emails = EmailIdentifier().find
is_valid_email = EmailIdentifier().is_valid
find_btc = BtcIdentifier().find
find_xmr = XmrIdentifier().find
find_eth = EthIdentifier().find
find_pgp = PgpIdentifier().find
find_phones = PhoneIdentifier().find
ROOT = Path(__file__).resolve().parents[2]
SCANNED_DIRS = (ROOT / "crawler" / "extract", ROOT / "identifiers")


def _flip(value: str, pos: int, alphabet: str) -> str:
    new = next(c for c in alphabet if c != value[pos])
    return value[:pos] + new + value[pos + 1 :]


def test_entity_keys_are_the_page_document_keys():
    assert tuple(ENTITY_KEYS) == tuple(ENTITY_TYPES)


# onions ------------------------------------------------------------------------------
PUBKEY = bytes(range(32))
ONION = onion_address(PUBKEY)


def test_onion_address_round_trip():
    assert len(ONION) == 62 and ONION.endswith(".onion")
    assert is_valid_onion(ONION) and is_valid_onion(ONION.upper())
    assert is_valid_onion("www." + ONION)


@pytest.mark.parametrize("pos", [0, 10, 30, 51, 53, 55])
def test_onion_with_one_character_changed_is_rejected(pos):
    assert not is_valid_onion(_flip(ONION, pos, "abcdefghijklmnopqrstuvwxyz234567"))


def test_onion_wrong_version_or_length_is_rejected():
    import base64
    import hashlib

    version = 4
    checksum = hashlib.sha3_256(b".onion checksum" + PUBKEY + bytes([version])).digest()[:2]
    raw = PUBKEY + checksum + bytes([version])
    assert not is_valid_onion(base64.b32encode(raw).decode().lower() + ".onion")
    assert not is_valid_onion("expyuzz4wqqyqhjn.onion")  # v2 shape
    assert not is_valid_onion(ONION[:-6])


def test_find_onions_in_text_and_urls():
    bad = _flip(ONION, 5, "abcdefghijklmnopqrstuvwxyz234567")
    text = f"see http://{ONION.upper()}/page and {bad} or x{ONION}"
    assert find_onions(text) == [ONION]


# e-mail ------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["sales@example.com", "first.last+tag@mail.example.org"])
def test_valid_emails(value):
    assert is_valid_email(value)


@pytest.mark.parametrize(
    "value", ["name@localhost", "name@@example.com", "a..b@example.com", "x@1.2", "@example.com"]
)
def test_invalid_emails(value):
    assert not is_valid_email(value)
    assert find_emails(f"write to {value} today") == []


def test_find_emails_lowercases_the_whole_address():
    assert find_emails("Mail Sales@Example.ORG, or mailto:help@example.net.") == [
        "sales@example.org", "help@example.net"]


# bitcoin -----------------------------------------------------------------------------
BASE58_VALID = ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"]
SEGWIT_VALID = [
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",  # BIP 173
    "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",  # BIP 173, P2WSH
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",  # BIP 350, taproot
]


@pytest.mark.parametrize("value", BASE58_VALID)
def test_base58_valid_and_one_char_off(value):
    assert is_valid_base58_address(value)
    assert not is_valid_base58_address(_flip(value, len(value) - 1, "123456789abcdefghijk"))
    assert not is_valid_base58_address(_flip(value, 10, "123456789abcdefghijk"))


def test_base58_other_versions_rejected():
    assert not is_valid_base58_address(base58check_encode(0x6F, bytes(20)))  # testnet
    assert is_valid_base58_address(base58check_encode(0x05, bytes(range(20))))


@pytest.mark.parametrize("value", SEGWIT_VALID)
def test_segwit_valid_and_one_char_off(value):
    assert is_valid_segwit_address(value)
    lower = value.lower()
    assert not is_valid_segwit_address(_flip(lower, len(lower) - 1, "qpzry9x8"))


def test_segwit_wrong_variant_and_mixed_case_rejected():
    # BIP 350: a v0 program with a bech32m checksum is invalid.
    assert not is_valid_segwit_address("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh")
    assert not is_valid_segwit_address("bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    assert not is_valid_segwit_address("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx")  # testnet
    assert is_valid_segwit_address(segwit_encode(0, bytes(20)))
    assert not is_valid_segwit_address(segwit_encode(0, bytes(25)))  # v0 needs 20 or 32


def test_find_btc_keeps_order_and_lowercases_bech32():
    bad = _flip(BASE58_VALID[0], 33, "123456789abc")
    text = f"pay {SEGWIT_VALID[0]} or {BASE58_VALID[0]}, not {bad}"
    assert find_btc(text) == [SEGWIT_VALID[0].lower(), BASE58_VALID[0]]


# monero ------------------------------------------------------------------------------
XMR_VALID = (
    "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"
)


def test_monero_standard_integrated_subaddress():
    rng = random.Random(3)
    spend, view = rng.randbytes(32), rng.randbytes(32)
    standard = monero_address(18, spend, view)
    integrated = monero_address(19, spend, view, rng.randbytes(8))
    sub = monero_address(42, spend, view)
    assert (len(standard), len(integrated), len(sub)) == (95, 106, 95)
    assert standard[0] == "4" and sub[0] == "8"
    for value in (XMR_VALID, standard, integrated, sub):
        assert is_valid_monero_address(value)
        assert not is_valid_monero_address(_flip(value, 50, "123456789ABCDEFG"))
    assert not is_valid_monero_address(monero_address(24, spend, view))  # testnet byte
    assert find_xmr(f"xmr: {integrated} and {XMR_VALID[:-1]}x") == [integrated]


# ethereum ----------------------------------------------------------------------------
EIP55 = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("value", EIP55)
def test_eip55_vectors(value):
    assert to_checksum_address(value.lower()) == value
    assert is_valid_eth_address(value)
    assert is_valid_eth_address(value.lower()) and is_valid_eth_address("0x" + value[2:].upper())
    pos = next(i for i, c in enumerate(value) if i > 1 and c.isalpha())
    assert not is_valid_eth_address(value[:pos] + value[pos].swapcase() + value[pos + 1 :])


def test_find_eth_reports_lower_case_and_skips_longer_hex():
    text = f"send to {EIP55[0]}; tx 0x{'ab' * 32}; again {EIP55[0].lower()}"
    assert find_eth(text) == [EIP55[0].lower()]
    assert EthIdentifier().display(EIP55[0].lower()) == EIP55[0]


# pgp ---------------------------------------------------------------------------------
# Made with gpg --quick-gen-key (ed25519), exported with --armor: an old-format packet.
GPG_BLOCK = """-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEawyBWhYJKwYBBAHaRw8BAQdAjP+sgA1wTEDfx601O12VwwQ55bBivkh3H1Dk
u6rjNGa0FFRlc3QgPHRAZXhhbXBsZS5vcmc+iI8EExYIADgWIQRpZjQv/yVkMyq5
IpSwegAxfljD5wUCawyBWgIbAwULCQgHAgYVCgkICwIEFgIDAQIeAQIXgAAKCRCw
egAxfljD5w96APid+d7R/yMQG8+RJU6MJdqMZW0zoaQ+uVqmie5rz0KhAP9CoQMn
jH5CbwEmD22tPAAOVKpCJ33qdPPVPlP8dp7VCQ==
=Dtqr
-----END PGP PUBLIC KEY BLOCK-----"""
GPG_FPR = "6966342FFF2564332AB92294B07A00317E58C3E7"


def test_pgp_fingerprint_matches_gpg():
    assert find_pgp(f"my key:\n{GPG_BLOCK}\nthanks") == [GPG_FPR]


def test_pgp_bad_crc_or_base64_yields_nothing():
    assert find_pgp(GPG_BLOCK.replace("=Dtqr", "=Dtqs")) == []
    assert find_pgp(GPG_BLOCK.replace("mDMEawyB", "mDMEaw!B")) == []
    empty = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----"
    assert find_pgp(empty) == []


def test_pgp_armor_round_trip_and_crc24():
    assert crc24(b"") == 0xB704CE
    assert find_pgp(armor(b"\x98\x03\x04\x00\x00")) == []  # too short to be a key
    block = GPG_BLOCK.replace("\n\n", "\nComment: exported\n\n", 1)
    assert find_pgp(block) == [GPG_FPR]


# phones ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "region", "e164"),
    [
        ("(201) 555-0123", "US", "+12015550123"),
        ("0121 234 5678", "GB", "+441212345678"),
        ("030 123456", "DE", "+4930123456"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("+44 121 234 5678", None, "+441212345678"),
        ("+33 6 12 34 56 78", "US", "+33612345678"),
    ],
)
def test_phone_formats_normalised(written, region, e164):
    assert normalize_phone(written, region) == e164
    assert find_phones(f"call {written} today", [region] if region else []) == [e164]


@pytest.mark.parametrize(
    ("written", "region"),
    [("2015550123", "US"), ("+1 555 0100", "US"), ("123-45", "US"), ("030 123456", None)],
)
def test_non_phones_rejected(written, region):
    assert normalize_phone(written, region) is None
    assert find_phones(f"ref {written} here", [region] if region else []) == []


def test_phones_not_found_in_hashes_and_dates():
    text = f"hash {'4155552671' * 4} on 2024-01-15 at 127.0.0.1"
    assert find_phones(text, ["US", "GB", "DE"]) == []


# magnets -----------------------------------------------------------------------------
def _xt(value: str) -> str | None:
    try:
        return xt_infohash(value)[1]
    except InvalidIdentifier:
        return None


def test_magnet_forms():
    hex40 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    b32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"
    v2 = "1220" + "ab" * 32
    assert _xt(f"urn:btih:{hex40.upper()}") == hex40
    assert _xt(f"urn:btih:{b32}") == hex40
    assert _xt(f"urn:btmh:{v2}") == "ab" * 32
    assert _xt("urn:btih:" + hex40[:39]) is None
    assert _xt("urn:btmh:1114" + "ab" * 32) is None
    hybrid = f"magnet:?xt=urn:btih:{hex40}&xt=urn:btmh:{v2}&dn=archive"
    assert parse_magnet(hybrid).infohashes == (hex40, "ab" * 32)
    text = f"get {hybrid.replace('&', '&amp;')}. and magnet:?xt=urn:btih:{hex40[:39]}"
    assert MagnetIdentifier().find(text) == [hybrid]
    found = find_entities(text)
    assert found["magnets"] == [hybrid] and found["infohashes"] == [hex40, "ab" * 32]


def test_find_entities_has_every_key():
    assert set(find_entities("")) == set(ENTITY_KEYS)
    assert all(v == [] for v in find_entities("nothing to see").values())


def test_every_regex_in_extract_is_a_raw_string():
    # A non-raw "\b" is a backspace: such a pattern silently never matches.
    offenders = []
    for path in (p for d in SCANNED_DIRS for p in d.rglob("*.py")):
        tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
        for i, tok in enumerate(tokens[:-2]):
            if tok.string == "compile" and tokens[i + 1].string == "(":
                j = i + 2
                while tokens[j].type in (tokenize.NL, tokenize.NEWLINE, tokenize.STRING):
                    if tokens[j].type == tokenize.STRING and "\\" in tokens[j].string:
                        prefix = re.match(r"[a-zA-Z]*", tokens[j].string).group(0)
                        if "r" not in prefix.lower():
                            offenders.append(f"{path.name}:{tokens[j].start[0]}")
                    j += 1
    assert offenders == []


def test_image_names_are_not_emails():
    assert find_emails("logo@2x.png and icon@3x.webp") == []


def test_pgp_many_begin_lines_pair_with_the_last_begin():
    text = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n" * 1000 + GPG_BLOCK
    assert find_pgp(text) == [GPG_FPR]
    assert find_pgp(GPG_BLOCK.replace("-----END PGP PUBLIC KEY BLOCK-----", "")) == []


def test_phone_candidates_are_capped():
    text = "(201) 555-0123 " * (MAX_CANDIDATES * 2)
    assert len(candidates(text)) == MAX_CANDIDATES
    assert find_phones(text, ["US"]) == ["+12015550123"]
