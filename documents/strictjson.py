"""Strict JSON for input files: what :mod:`json` accepts silently, or crashes on, is refused.

``loads`` raises :class:`JsonRefused` (its ``message`` in words, ``pos`` the character
offset when known) for: a syntax error; a duplicate key in one object; an integer of more
than ``MAX_INT_DIGITS`` digits (the stdlib raises a bare ValueError past 4,300 digits);
NaN, Infinity or a number beyond the float range; nesting deeper than ``MAX_DEPTH``
(checked by a cheap scan before parsing, the stdlib would raise RecursionError); and a
lone UTF-16 surrogate such as ``"\\ud800"``, which is no character and which no UTF-8 file,
database or search backend can hold. Reads no settings.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from errors import HeroesError

MAX_DEPTH = 64
# 20 digits hold every 64-bit integer, the widest number a document field stores.
MAX_INT_DIGITS = 20

_BRACKETS = re.compile(r"[\[\]{}]")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_LONG_INT = re.compile(rf"-?\d{{{MAX_INT_DIGITS + 1},}}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JsonRefused(HeroesError):
    """A JSON text that is broken or that we refuse to take; ``pos`` is a character offset."""

    def __init__(self, message: str, pos: int | None = None):
        self.message = message
        self.pos = pos
        super().__init__(message if pos is None else f"{message} (offset {pos})")


class _Refusal(Exception):
    """Raised inside the decoder's hooks; ``loads`` turns it into JsonRefused."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refusal(f"duplicate key {key!r} in one object")
            seen.add(key)
    return obj


def _int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise _Refusal(f"an integer of {digits:,} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refusal(f"the number {text!r:.40} is beyond the range of a float")
    return value


def _constant(name: str) -> Any:
    raise _Refusal(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_int=_int, parse_float=_float, parse_constant=_constant
)


def _blank_strings(text: str) -> str:
    # Brackets and digits inside strings are content: blank them, keeping every offset.
    return _STRING.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', text)


def too_deep_at(text: str, limit: int = MAX_DEPTH) -> int | None:
    """Offset of the bracket that opens level ``limit + 1``, or None when nesting stays within."""
    if text.count("[") + text.count("{") <= limit:
        return None  # fewer openers than the limit: no need to look closer
    depth = 0
    for found in _BRACKETS.finditer(_blank_strings(text)):
        if found.group() in "[{":
            depth += 1
            if depth > limit:
                return found.start()
        else:
            depth -= 1
    return None


def loads(text: str) -> Any:
    """Parse one JSON text strictly; raise :class:`JsonRefused` saying what is wrong."""
    deep = too_deep_at(text)
    if deep is not None:
        raise JsonRefused(f"nested more than {MAX_DEPTH} levels deep", deep)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"not JSON: {exc.msg}", exc.pos) from None
    except _Refusal as exc:
        raise JsonRefused(str(exc), _locate(text, str(exc))) from None
    except RecursionError:  # the scan above makes this unreachable; kept as a last guard
        raise JsonRefused(f"nested more than {MAX_DEPTH} levels deep") from None
    if _SURROGATE_ESCAPE.search(text):
        lone = _lone_surrogate(value)
        if lone is not None:
            raise JsonRefused(
                f"a lone surrogate {lone!r} in a string (half of a UTF-16 pair, not a character)",
                _lone_escape_at(text),
            )
    return value


def _locate(text: str, message: str) -> int | None:
    if message.startswith("an integer of"):
        found = _LONG_INT.search(_blank_strings(text))
        return found.start() if found else None
    return None


def _lone_escape_at(text: str) -> int | None:
    """Offset of the first ``\\uD8xx``..``\\uDFxx`` escape that is not half of a pair."""
    pending_high: int | None = None
    for found in _SURROGATE_ESCAPE.finditer(text):
        code = int(found.group()[2:], 16)
        if pending_high is not None:
            if code >= 0xDC00 and found.start() == pending_high + 6:
                pending_high = None
                continue
            return pending_high
        if code >= 0xDC00:
            return found.start()
        pending_high = found.start()
    return pending_high


def _lone_surrogate(value: Any) -> str | None:
    """The first string character that UTF-8 cannot encode, in keys or values."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError as exc:
                return node[exc.start]
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None
