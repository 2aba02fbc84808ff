"""Which near records of a new page become its pairs: the closest on each other member.

Pure. Used by the analyser for both kinds of nearness (text by Jaccard similarity, higher
is closer; pictures by Hamming distance, lower is closer).
"""

from __future__ import annotations

from collections.abc import Callable


def closest_per_member(
    found: list[tuple[str, float]], holder: Callable[[str], tuple[str, int] | None],
    own: str, *, higher: bool,
) -> list[tuple[str, float]]:
    """Of the records near a new page, the closest on each other member (``higher``: a
    higher score is closer; ties go to the earliest record, then the record id).

    One pair per member keeps the evidence of a link while the pairs grow with the pages,
    not with their square: a template posted ten thousand times would otherwise store every
    pair of its posts. The page's own member is no link.
    """
    best: dict[str, tuple[tuple[float, int, str], str, float]] = {}
    for record, score in found:
        held = holder(record)
        if held is None or held[0] == own:
            continue
        rank = (-score if higher else score, held[1], record)
        if held[0] not in best or rank < best[held[0]][0]:
            best[held[0]] = (rank, record, score)
    return sorted((record, score) for _, record, score in best.values())
