"""Keywords of keyword lists: a term or phrase in any language. No settings.

The canonical form is Unicode NFKC (full-width and compatibility forms fold into the usual
ones), case-folded (``ß`` = ``ss``), every run of separators (white space and the
punctuation torrent names put between words: ``._-/`` and the like) made one space. The
same function normalises the text a keyword is looked for in (``index.keywords``).
Keywords are never looked for as identifiers in page text.
"""

from __future__ import annotations

import re
import unicodedata

from identifiers.base import Identifier, quoted
from identifiers.errors import InvalidIdentifier

MAX_KEYWORD = 200
_SEPARATORS = re.compile(r"[\s._\-/\\|+,;:!?()\[\]{}<>\"'`~*#=&^%$@]+")


def normalize_text(text: str) -> str:
    """The comparable form of a term or of the text it is looked for in."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SEPARATORS.sub(" ", folded).strip()


class KeywordIdentifier(Identifier):
    name = "keyword"
    description = "term or phrase matched in torrent and file names, any language"
    spellings = (
        ("Harbour  Lights", "harbour lights"),
        ("ＬＩＧＨＴＨＯＵＳＥ", "lighthouse"),
        ("Straße", "strasse"),
        ("old_harbour.lights", "old harbour lights"),
        ("灯台", "灯台"),
    )
    invalid = (
        ("  ", "at least one letter or digit"),
        ("---", "at least one letter or digit"),
        ("x" * 201, "at most 200 characters"),
    )

    def parse(self, raw: str) -> str:
        value = normalize_text(raw)
        if not value:
            raise InvalidIdentifier(
                f"a keyword needs at least one letter or digit, got {quoted(raw)}")
        if len(value) > MAX_KEYWORD:
            raise InvalidIdentifier(f"a keyword is at most {MAX_KEYWORD} characters, got "
                                    f"{len(value)}: {quoted(raw)}")
        return value
