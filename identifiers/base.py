"""The interface every identifier type implements, and the helpers hex-shaped types share.

An identifier type names itself once (``name``) and knows four things about its values:

- ``find(text)``: the valid values written in free text, canonical, first occurrence order,
  no repeats (types that are never looked for in text find nothing);
- ``parse(raw)``: the canonical form of one value in any accepted spelling, or
  :class:`InvalidIdentifier` quoting the value and saying what is wrong (length, alphabet,
  checksum);
- ``display(canonical)``: the spelling a person reads and pastes (EIP-55 for Ethereum);
  parsing a displayed value gives the canonical one back;
- ``normalize_prefix(prefix)``: the start of a value as typed (a query's ``value*``) brought
  as far towards the canonical form as a part of a value allows: the canonical case where
  the type's canonical form is case-folded, a scheme dropped; unchanged by default (a
  base58 or Monero address is case-sensitive, so a part of one stays as typed);
- its examples: ``spellings`` ((raw, canonical) pairs), ``invalid`` ((raw, what the error
  must say) pairs) and ``in_text`` ((text, canonicals found) pairs); they generate the tests.

Instances hold no state; the registry (:mod:`identifiers.registry`) keeps one of each.
"""

from __future__ import annotations

import re
from typing import ClassVar

from identifiers.encodings import b32decode
from identifiers.errors import InvalidIdentifier

_HEX_RE = re.compile(r"[0-9a-fA-F]+")
SHOWN = 90  # characters of a bad value quoted in a message


def quoted(raw: object) -> str:
    """``raw`` as ``repr``, cut so that a huge value does not flood the message."""
    text = repr(raw)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def is_hex(value: str) -> bool:
    return _HEX_RE.fullmatch(value) is not None


def hex_digits(raw: str, digits: tuple[int, ...], name: str, shown: str | None = None) -> str:
    """Lower-case hex of ``raw`` (an optional ``0x`` dropped) with one of ``digits`` digits."""
    value = raw.strip()
    if value[:2] in ("0x", "0X"):
        value = value[2:]
    if len(value) not in digits or not is_hex(value):
        want = " or ".join(str(d) for d in digits)
        raise InvalidIdentifier(
            f"{name} must be {want} hex digits, got {len(value)} characters: "
            f"{quoted(raw if shown is None else shown)}"
        )
    return value.lower()


def hex_prefix(prefix: str, schemes: tuple[str, ...] = ()) -> str:
    """The start of a lower-case hex value: ``0x`` or one of ``schemes`` dropped, case folded."""
    value = prefix.strip()
    low = value.lower()
    for scheme in (*schemes, "0x"):
        if low.startswith(scheme):
            return low[len(scheme) :]
    return low


def unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class Identifier:
    """One kind of identifier value. Subclasses set the class variables and ``parse``."""

    name: ClassVar[str]
    description: ClassVar[str]
    spellings: ClassVar[tuple[tuple[str, str], ...]] = ()
    invalid: ClassVar[tuple[tuple[str, str], ...]] = ()
    in_text: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()

    def parse(self, raw: str) -> str:
        """The canonical form of ``raw``; :class:`InvalidIdentifier` saying what is wrong."""
        raise NotImplementedError

    def is_valid(self, raw: str) -> bool:
        try:
            self.parse(raw)
        except InvalidIdentifier:
            return False
        return True

    def find(self, text: str) -> list[str]:
        """Valid values in ``text``, canonical, first occurrence order, no repeats."""
        return []

    def display(self, canonical: str) -> str:
        """What a person reads and pastes; the canonical form unless the type says otherwise."""
        return canonical

    def normalize_prefix(self, prefix: str) -> str:
        """The start of a canonical value from the start of a value as typed (default: as is)."""
        return prefix


class HexIdentifier(Identifier):
    """A digest written as hex digits: canonical lower-case, any case and ``0x`` accepted."""

    digits: ClassVar[tuple[int, ...]]

    def parse(self, raw: str) -> str:
        return hex_digits(raw, self.digits, self.name)

    def normalize_prefix(self, prefix: str) -> str:
        return hex_prefix(prefix)


def base32_hex(raw: str, value: str, name: str) -> str:
    """Lower-case hex of 32 base32 characters (RFC 4648, any case)."""
    try:
        return b32decode(value).hex()
    except ValueError:
        raise InvalidIdentifier(
            f"{name} in base32 must be 32 characters A-Z2-7, got {quoted(raw)}"
        ) from None
