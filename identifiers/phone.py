"""Phone numbers, canonical in E.164, validated with ``phonenumbers`` under strict validity.

International numbers (``+…``) are found whatever the hint; national formats only for the
hint regions, tried in order, the first region that makes a span valid claiming it. A
number must be valid for its region (not merely possible) and be written as a phone
number is: with a leading ``+`` or separators between digit groups. So order numbers,
hashes and other bare digit runs are not phones. ``parse`` takes one number written
internationally (``+44 121 234 5678``, ``+441212345678``). No settings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

from identifiers.base import Identifier, quoted, unique
from identifiers.errors import InvalidIdentifier

# Regions tried for national formats, by page language (ISO 639-1).
LANG_REGIONS: dict[str, tuple[str, ...]] = {
    "en": ("US", "GB", "CA", "AU", "IE"),
    "de": ("DE", "AT", "CH"),
    "fr": ("FR", "BE", "CH"),
    "es": ("ES", "MX", "AR"),
    "it": ("IT",),
    "nl": ("NL", "BE"),
    "pt": ("PT", "BR"),
    "pl": ("PL",),
    "ru": ("RU",),
}
# Phone candidates are looked for in this much text at most.
MAX_SCAN_CHARS = 200_000
_SEPARATED_RE = re.compile(r"\d[\s().\-/]+\d")
# A run of digits and phone separators, optionally opened by "+" or "(".
_CANDIDATE_RE = re.compile(r"(?:\+\s*|\(\s*)?\d[\d \t().\-/]{4,28}\d")
MIN_DIGITS = 6
# A page of digit tables would otherwise cost seconds; real pages list a few numbers.
MAX_CANDIDATES = 500
NO_REGION = "ZZ"


def regions_for_lang(lang: str) -> tuple[str, ...]:
    """Hint regions for a page language; none (international numbers only) when unknown."""
    return LANG_REGIONS.get(lang, ())


def looks_written(raw: str) -> bool:
    return raw.lstrip().startswith("+") or _SEPARATED_RE.search(raw) is not None


def normalize_phone(raw: str, region: str | None = None) -> str | None:
    """E.164 form of one written number (national for ``region``), or None when not valid."""
    if not looks_written(raw):
        return None
    try:
        number = phonenumbers.parse(raw, region or NO_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def candidates(text: str) -> list[tuple[int, str]]:
    """(offset, snippet) of each digit run that could hold a number, with one character of
    context either side (phonenumbers rejects numbers glued to letters)."""
    out: list[tuple[int, str]] = []
    for m in _CANDIDATE_RE.finditer(text):
        if sum(c.isdigit() for c in m.group(0)) >= MIN_DIGITS:
            start = max(m.start() - 1, 0)
            out.append((start, text[start : m.end() + 1]))
            if len(out) >= MAX_CANDIDATES:
                break
    return out


class PhoneIdentifier(Identifier):
    name = "phone"
    description = "Phone number in international form, stored as E.164"
    spellings = (
        ("+44 121 234 5678", "+441212345678"),
        ("+441212345678", "+441212345678"),
        ("+1 (201) 555-0123", "+12015550123"),
        ("tel:+33 6 12 34 56 78", "+33612345678"),
    )
    invalid = (
        ("+1 555 0100", "not a valid phone number"),
        ("2015550123", "international"),
        ("+44 12", "not a valid phone number"),
    )
    in_text = (
        ("call (201) 555-0123 or +44 121 234 5678", ("+441212345678",)),
        (f"hash {'4155552671' * 4} on 2024-01-15 at 127.0.0.1", ()),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if value[:4].lower() == "tel:":
            value = value[4:]
        if not value.startswith("+"):
            raise InvalidIdentifier(
                f"a phone number must be written internationally, starting with +: {quoted(raw)}"
            )
        e164 = normalize_phone(value)
        if e164 is None:
            raise InvalidIdentifier(f"not a valid phone number: {quoted(raw)}")
        return e164

    def find(self, text: str, regions: Sequence[str] = ()) -> list[str]:
        found: list[tuple[int, str]] = []
        # The matcher is costly per character: run it only on digit runs, not on the page.
        for offset, snippet in candidates(text[:MAX_SCAN_CHARS]):
            claimed: list[tuple[int, int]] = []
            for region in (*regions, NO_REGION):
                for match in PhoneNumberMatcher(snippet, region, leniency=Leniency.VALID):
                    span = (match.start, match.end)
                    if any(s < span[1] and span[0] < e for s, e in claimed):
                        continue
                    if not looks_written(match.raw_string):
                        continue
                    claimed.append(span)
                    e164 = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
                    found.append((offset + match.start, e164))
        found.sort()
        return unique([v for _, v in found])
