"""E-mail addresses: found by format (there is no checksum), domain lower-cased. No settings."""

from __future__ import annotations

import re

# Local part of common characters, a dotted domain whose last label is letters only (so
# that "v1.2@3.4" and "name@host" are not addresses); not glued to surrounding word chars.
_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])"
)


# "logo@2x.png" is an image name, not an address.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "webp", "svg", "css", "js", "ico"})


def normalize_email(local: str, domain: str) -> str | None:
    """``local@domain`` with the domain lower-cased, or None when it is malformed."""
    if local.endswith(".") or ".." in local:
        return None
    if domain.rsplit(".", 1)[-1].lower() in _FILE_SUFFIXES:
        return None
    return f"{local}@{domain.lower()}"


def is_valid_email(value: str) -> bool:
    """True when the whole of ``value`` is one address of the accepted format."""
    m = _EMAIL_RE.fullmatch(value)
    return m is not None and normalize_email(m.group(1), m.group(2)) is not None


def find_emails(text: str) -> list[str]:
    """Addresses in ``text``, first occurrence order, no repeats."""
    found = (normalize_email(m.group(1), m.group(2)) for m in _EMAIL_RE.finditer(text))
    return list(dict.fromkeys(v for v in found if v))
