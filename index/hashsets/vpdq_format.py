"""vPDQ files: the frame hashes of one video, as ThreatExchange's ``vpdq-hash-video`` writes them.

One line per frame, ``frame_number,quality,pdq_hex,timestamp`` (the reference
implementation's ``vpdqio.cpp``); blank lines and ``#`` comments are skipped. The whole file
is ONE list entry of type ``vpdq`` (the entry id is the file's stem unless the caller names
one): each bad line is reported with its number and skipped, and the good frames form the
value. A file with no good frame yields only its problems. No settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from documents.reader import CUT_SHORT, Line
from identifiers.base import quoted
from identifiers.errors import InvalidIdentifier
from identifiers.vpdq import VpdqFrame, canonical, frame
from index.hashsets.rows import LineProblem, RawValue

FIELDS = "frame_number,quality,pdq_hex,timestamp"


def read_vpdq(
    lines: Iterable[Line | LineProblem], *, entry: str = "", category: str = ""
) -> Iterator[RawValue | LineProblem]:
    frames: list[VpdqFrame] = []
    first = 0
    for line in lines:
        if isinstance(line, LineProblem):
            yield line
            continue
        text = line.text.strip()
        if not text or text.startswith("#"):
            continue
        cut = CUT_SHORT if line.unterminated else ""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            yield LineProblem(
                line.number, f"expected {FIELDS} (4 fields), got {len(parts)}: {quoted(text)}{cut}"
            )
            continue
        number, quality, pdq, seconds = parts
        if not number.isdigit():
            yield LineProblem(
                line.number, f"the frame number must be a whole number, got {number!r}{cut}"
            )
            continue
        try:
            frames.append(frame(seconds, pdq, quality, f"frame {number}"))
        except InvalidIdentifier as exc:
            yield LineProblem(line.number, f"{exc}{cut}")
            continue
        first = first or line.number
    if frames:
        yield RawValue(first, "vpdq", canonical(frames), category, entry)
