"""Ethereum addresses: ``0x`` + 40 hex digits; a mixed-case one must pass EIP-55.

All-lower or all-upper addresses carry no checksum and are accepted; every address is
reported in its EIP-55 form so the same account has one spelling in the index. No settings.
"""

from __future__ import annotations

import re

from crawler.extract.entities.monero import keccak256

_ETH_RE = re.compile(r"(?<![0-9A-Za-z])0x([0-9a-fA-F]{40})(?![0-9A-Za-z])")


def to_checksum_address(hex40: str) -> str:
    """EIP-55 spelling of a 40-hex-digit address (with or without ``0x``)."""
    lower = hex40.lower().removeprefix("0x")
    digest = keccak256(lower.encode("ascii")).hex()
    digits = (c.upper() if int(d, 16) >= 8 else c for c, d in zip(lower, digest[:40], strict=True))
    return "0x" + "".join(digits)


def is_valid_eth_address(address: str) -> bool:
    m = _ETH_RE.fullmatch(address)
    if m is None:
        return False
    digits = m.group(1)
    if digits.islower() or digits.isupper() or digits.isdigit():
        return True
    return to_checksum_address(digits) == "0x" + digits


def find_eth(text: str) -> list[str]:
    """Valid addresses in ``text`` in EIP-55 form, first occurrence order, no repeats."""
    found = (m.group(0) for m in _ETH_RE.finditer(text))
    return list(dict.fromkeys(to_checksum_address(a) for a in found if is_valid_eth_address(a)))
