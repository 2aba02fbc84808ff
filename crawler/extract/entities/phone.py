"""Phone numbers, normalised to E.164 with ``phonenumbers`` under strict validity.

International numbers (``+…``) are found whatever the hint; national formats only for the
hint regions, tried in order, the first region that makes a span valid claiming it. A
number must be valid for its region (not merely possible) and be written as a phone
number is: with a leading ``+`` or separators between digit groups. So order numbers,
hashes and other bare digit runs are not phones. No settings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

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
_NO_REGION = "ZZ"


def regions_for_lang(lang: str) -> tuple[str, ...]:
    """Hint regions for a page language; none (international numbers only) when unknown."""
    return LANG_REGIONS.get(lang, ())


def _looks_written(raw: str) -> bool:
    return raw.lstrip().startswith("+") or _SEPARATED_RE.search(raw) is not None


def is_valid_phone(raw: str, region: str | None = None) -> bool:
    """True when ``raw`` alone is a valid number (international, or national for ``region``)."""
    return normalize_phone(raw, region) is not None


def normalize_phone(raw: str, region: str | None = None) -> str | None:
    """E.164 form of one written number, or None when it is not a valid one."""
    if not _looks_written(raw):
        return None
    try:
        number = phonenumbers.parse(raw, region or _NO_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _candidates(text: str) -> list[tuple[int, str]]:
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


def find_phones(text: str, regions: Sequence[str] = ()) -> list[str]:
    """Valid numbers in ``text`` as E.164, first occurrence order, no repeats."""
    found: list[tuple[int, str]] = []
    # The matcher is costly per character: run it only on digit runs, not on the page.
    for offset, snippet in _candidates(text[:MAX_SCAN_CHARS]):
        claimed: list[tuple[int, int]] = []
        for region in (*regions, _NO_REGION):
            for match in PhoneNumberMatcher(snippet, region, leniency=Leniency.VALID):
                span = (match.start, match.end)
                if any(s < span[1] and span[0] < e for s, e in claimed):
                    continue
                if not _looks_written(match.raw_string):
                    continue
                claimed.append(span)
                e164 = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
                found.append((offset + match.start, e164))
    found.sort()
    return list(dict.fromkeys(v for _, v in found))
