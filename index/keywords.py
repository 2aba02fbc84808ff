"""Keyword lists: one term or phrase per line, any language, matched in torrent names and paths.

List entries and the text they are looked for in share one normal form
(:func:`identifiers.keyword.normalize_text`: NFKC, case-folded, separators made one
space). :class:`KeywordMatcher`
finds entries in text: a term in a script written with spaces between words matches only
whole words (``art`` is not in ``party``); in scripts written without them (Han, kana,
Thai, ...) it matches anywhere. Pure functions; reads no settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from identifiers.keyword import normalize_text as normalize_keyword


def _spaced_script(char: str) -> bool:
    # Han, Hiragana/Katakana, Hangul syllables are matched without word boundaries; so are
    # Thai, Lao, Khmer and Myanmar, which write words without spaces between them.
    code = ord(char)
    unspaced = (0x0E00 <= code <= 0x0EFF or 0x1000 <= code <= 0x109F
                or 0x1780 <= code <= 0x17FF or 0x2E80 <= code <= 0x9FFF
                or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF
                or 0x20000 <= code <= 0x3FFFF)
    return not unspaced


class KeywordMatcher:
    """Every entry of the keyword lists, compiled into one pattern."""

    def __init__(self, keywords: Iterable[str]):
        self.keywords = sorted({k for k in keywords if k}, key=lambda k: (-len(k), k))
        parts = []
        for k in self.keywords:
            head = r"(?<!\w)" if _spaced_script(k[0]) else ""
            tail = r"(?!\w)" if _spaced_script(k[-1]) else ""
            parts.append(f"{head}{re.escape(k)}{tail}")
        # Lookahead groups let overlapping terms all be found in one pass.
        self._pattern = (re.compile("|".join(f"(?=({p}))" for p in parts))
                         if parts else None)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def find(self, text: str) -> list[str]:
        """The entries found in ``text`` (normalised first), longest first, no repeats."""
        if self._pattern is None or not text:
            return []
        found: dict[str, None] = {}
        for m in self._pattern.finditer(normalize_keyword(text)):
            for group in m.groups():
                if group:
                    found[group] = None
        return sorted(found, key=lambda k: (-len(k), k))
