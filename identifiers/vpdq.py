"""vPDQ video hashes: the PDQ hashes of a video's frames, each with its time and quality.

A vPDQ hash is a bag of frames (python-threatexchange's ``VpdqCompactFeature``): a PDQ hash
(64 hex digits), its quality (0..100) and the frame's time in seconds. The canonical form
is that of ThreatExchange's compact feature, ``pdq,quality,seconds`` with the seconds to
three decimals, one per frame, frames in time order joined by ``;``. Accepted spellings:
the canonical form (any hex case, frames separated by ``;``, whitespace or new lines), a
JSON array of those frame strings (``vpdq_to_json``), and a JSON array of
``{"t": seconds, "pdq": hex, "q": quality}`` objects (how a page's media carries them).

Matching compares frames by PDQ distance (index.matching_vpdq); this type only fixes how a
value is written. No settings.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from identifiers.base import Identifier, is_hex, quoted
from identifiers.errors import InvalidIdentifier

# A day of video at one frame per second; bounds what one value may cost to hold.
MAX_FRAMES = 86_400
_SEPARATORS = re.compile(r"[;\s]+")
_FRAME = r"[0-9a-f]{64},(?:100|[1-9]?[0-9]),[0-9]+\.[0-9]{3}"
_CANONICAL = re.compile(rf"{_FRAME}(?:;{_FRAME})*")
_EXAMPLE = "f0" * 32


class VpdqFrame(NamedTuple):
    t: float  # seconds from the start of the video
    pdq: str  # 64 lower-case hex digits
    q: int  # PDQ quality, 0..100


def frame(t: Any, pdq: Any, q: Any, where: str = "frame") -> VpdqFrame:
    """One frame from loose parts; :class:`InvalidIdentifier` saying which part is wrong."""
    if not isinstance(pdq, str) or len(pdq.strip()) != 64 or not is_hex(pdq.strip()):
        raise InvalidIdentifier(f"{where}: the PDQ hash must be 64 hex digits, got {quoted(pdq)}")
    try:
        quality = int(q) if isinstance(q, int | str) and not isinstance(q, bool) else None
    except ValueError:
        quality = None
    if quality is None or not 0 <= quality <= 100:
        raise InvalidIdentifier(f"{where}: the quality must be an integer 0..100, got {quoted(q)}")
    try:
        seconds = float(t) if not isinstance(t, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidIdentifier(
            f"{where}: the time must be a number of seconds >= 0, got {quoted(t)}"
        )
    return VpdqFrame(round(seconds, 3), pdq.strip().lower(), quality)


def frames_of(raw: str | Iterable[Any]) -> tuple[VpdqFrame, ...]:
    """The frames of a vPDQ value in any accepted spelling, in time order.

    ``raw`` is a string (canonical form or JSON array) or the frames themselves (objects,
    frame strings or :class:`VpdqFrame`). :class:`InvalidIdentifier` names the bad frame
    (counting from 1) and quotes the value.
    """
    if isinstance(raw, str):
        text = raw.strip()
        if text.count(";") < MAX_FRAMES and _CANONICAL.fullmatch(text):
            # The stored form (a list of 100k videos is read at every reload): one regular
            # expression checks it whole, the frames need no checking one by one.
            return tuple(sorted(_canonical_frame(part) for part in text.split(";")))
        if text.startswith("["):
            try:
                items = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise InvalidIdentifier(f"vPDQ is not a valid JSON array: {quoted(raw)}") from exc
            if not isinstance(items, list):
                raise InvalidIdentifier(f"vPDQ must be a JSON array: {quoted(raw)}")
        else:
            items = [part for part in _SEPARATORS.split(text) if part]
    else:
        items = list(raw)
    if not items:
        raise InvalidIdentifier(f"vPDQ has no frames: {quoted(raw)}")
    if len(items) > MAX_FRAMES:
        raise InvalidIdentifier(
            f"vPDQ has {len(items):,} frames, more than {MAX_FRAMES:,}: {quoted(raw)}"
        )
    out = []
    for n, item in enumerate(items, 1):
        try:
            out.append(_item(item, f"vPDQ frame {n}"))
        except InvalidIdentifier as exc:
            raise InvalidIdentifier(f"{exc} in {quoted(raw)}") from None
    return tuple(sorted(out))


def _canonical_frame(part: str) -> VpdqFrame:
    pdq, quality, seconds = part.split(",")
    return VpdqFrame(float(seconds), pdq, int(quality))


def _item(item: Any, where: str) -> VpdqFrame:
    if isinstance(item, VpdqFrame):
        return frame(item.t, item.pdq, item.q, where)
    if isinstance(item, str):
        parts = item.split(",")
        if len(parts) != 3:
            raise InvalidIdentifier(
                f"{where} must be 'pdq,quality,seconds', got {quoted(item)}"
            )
        return frame(parts[2], parts[0], parts[1], where)
    if isinstance(item, Mapping):
        missing = [k for k in ("t", "pdq", "q") if k not in item]
        if missing:
            raise InvalidIdentifier(f"{where} lacks {', '.join(missing)}: {quoted(item)}")
        return frame(item["t"], item["pdq"], item["q"], where)
    if all(hasattr(item, k) for k in ("t", "pdq", "q")):  # a model of the same shape
        return frame(item.t, item.pdq, item.q, where)
    raise InvalidIdentifier(f"{where} must be a 'pdq,quality,seconds' string or an object")


def canonical(frames: Iterable[VpdqFrame]) -> str:
    """The canonical form of frames already valid (as :func:`frames_of` returns them)."""
    return ";".join(f"{f.pdq},{f.q},{f.t:.3f}" for f in sorted(frames))


def media_frames(frames: Iterable[VpdqFrame]) -> list[dict[str, Any]]:
    """Frames as a page's media carries them: ``{"t", "pdq", "q"}`` objects in time order."""
    return [{"t": f.t, "pdq": f.pdq, "q": f.q} for f in sorted(frames)]


class VpdqIdentifier(Identifier):
    name = "vpdq"
    description = (
        "vPDQ hash of a video: the PDQ hash, quality and time of its frames "
        "('pdq,quality,seconds' joined by ';')"
    )
    spellings = (
        (
            f"{_EXAMPLE.upper()},90,1.0; {'0f' * 32},80,0",
            f"{'0f' * 32},80,0.000;{_EXAMPLE},90,1.000",
        ),
        (f'["{_EXAMPLE},90,0.000"]', f"{_EXAMPLE},90,0.000"),
        (f'[{{"t": 2, "pdq": "{_EXAMPLE}", "q": 70}}]', f"{_EXAMPLE},70,2.000"),
    )
    invalid = (
        (f"{_EXAMPLE[:-1]},90,0", "64 hex digits"),
        (f"{_EXAMPLE},101,0", "quality must be an integer 0..100"),
        (f"{_EXAMPLE},90,-1", "time must be a number of seconds"),
        ("[]", "no frames"),
    )

    def parse(self, raw: str) -> str:
        return canonical(frames_of(raw))
