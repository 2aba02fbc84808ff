"""Text analysis shared by every backend: how TEXT fields and match queries become tokens.

Identical to tantivy's ``default`` tokenizer, so the embedded backend can build its term and
phrase queries from these tokens: split on every character that is not a letter or digit,
drop tokens of 40 UTF-8 bytes or more (their position still counts, so a phrase cannot
jump over them), then lower-case character by character. Reads no settings.
"""

from __future__ import annotations

import re

MAX_TOKEN_BYTES = 40
# ``\w`` is "alphanumeric or underscore" in Python; excluding the underscore leaves isalnum().
_WORD = re.compile(r"[^\W_]+")


def positioned_tokens(text: str) -> list[tuple[int, str]]:
    """``(position, token)`` pairs of one value, positions counting the dropped long tokens."""
    out: list[tuple[int, str]] = []
    for position, m in enumerate(_WORD.finditer(text)):
        raw = m.group()
        if len(raw.encode()) >= MAX_TOKEN_BYTES:
            continue
        # Per character, as tantivy's LowerCaser does (no context-dependent final sigma).
        out.append((position, raw.lower() if raw.isascii() else "".join(c.lower() for c in raw)))
    return out


def tokens(text: str) -> list[str]:
    return [token for _, token in positioned_tokens(text)]


def phrase_terms(text: str) -> list[tuple[int, str]]:
    """A phrase's tokens with offsets relative to its first token (gaps kept)."""
    pairs = positioned_tokens(text)
    if not pairs:
        return []
    first = pairs[0][0]
    return [(position - first, token) for position, token in pairs]


def word_prefix(text: str) -> str | None:
    """A prefix typed for a TEXT field, lower-cased as tokens are; None unless it is one word.

    Unlike :func:`tokens` a long prefix is kept: it simply matches no token.
    """
    if _WORD.fullmatch(text) is None:
        return None
    return text.lower() if text.isascii() else "".join(c.lower() for c in text)
