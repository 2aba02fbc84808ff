"""E-mail addresses: found by format (there is no checksum), canonical in lower case.

Local parts are case-insensitive at every provider people use, so the whole address is
lower-cased: a list entry and a page then agree however either was written. No settings.
"""

from __future__ import annotations

import re

from identifiers.base import Identifier, quoted, unique
from identifiers.errors import InvalidIdentifier

# Local part of common characters, a dotted domain whose last label is letters only (so
# that "v1.2@3.4" and "name@host" are not addresses); not glued to surrounding word chars.
_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])"
)
# "logo@2x.png" is an image name, not an address.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "webp", "svg", "css", "js", "ico"})


def _problem(local: str, domain: str) -> str | None:
    if local.endswith(".") or ".." in local:
        return "email local part has an empty dot-separated piece"
    if domain.rsplit(".", 1)[-1].lower() in _FILE_SUFFIXES:
        return "email domain ends like a file name"
    return None


class EmailIdentifier(Identifier):
    name = "email"
    description = "Email address (stored lower-case)"
    spellings = (
        ("Trader@Example.ONION", "trader@example.onion"),
        ("first.last+tag@mail.example.org", "first.last+tag@mail.example.org"),
        ("mailto:Sales@Example.org", "sales@example.org"),
    )
    invalid = (
        ("not-an-address", "not an email address"),
        ("a@b", "not an email address"),
        ("a..b@example.com", "dot"),
        ("logo@2x.png", "file name"),
    )
    in_text = (
        ("Mail Sales@Example.ORG, or mailto:help@example.net.",
         ("sales@example.org", "help@example.net")),
        ("logo@2x.png and name@localhost", ()),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if value[:7].lower() == "mailto:":
            value = value[7:]
        m = _EMAIL_RE.fullmatch(value)
        if m is None:
            raise InvalidIdentifier(f"not an email address: {quoted(raw)}")
        problem = _problem(m.group(1), m.group(2))
        if problem:
            raise InvalidIdentifier(f"{problem}: {quoted(raw)}")
        return value.lower()

    def normalize_prefix(self, prefix: str) -> str:
        value = prefix.strip()
        if value[:7].lower() == "mailto:":
            value = value[7:]
        return value.lower()

    def find(self, text: str) -> list[str]:
        if "@" not in text:  # most pages name no address: skip the pattern's scan
            return []
        found = [
            f"{m.group(1)}@{m.group(2)}".lower()
            for m in _EMAIL_RE.finditer(text)
            if _problem(m.group(1), m.group(2)) is None
        ]
        return unique(found)
