"""Pivot fields in queries: ``pivot.<name>`` (query strings) and ``pivots.<name>`` (fields).

:func:`pivot_field` turns either spelling into the index field and refuses a name that is
no pivot, or a kind that carries none, with a :class:`~errors.QueryError` that lists the
known pivots (:data:`documents.pivots.PIVOT_NAMES`). No settings.
"""

from __future__ import annotations

from documents import KINDS
from documents.pivots import PIVOT_NAMES, PIVOT_PREFIX
from errors import QueryError

_FIELD_PREFIX = "pivots."


def is_pivot(name: str) -> bool:
    """Whether ``name`` is spelled as a pivot field, known or not."""
    return name.startswith((PIVOT_PREFIX, _FIELD_PREFIX))


def pivot_field(kind: str, name: str, where: str = "") -> str:
    """``pivots.<pivot>`` for ``pivot.<pivot>`` or ``pivots.<pivot>``; an unknown pivot or a
    kind without pivots is a :class:`QueryError` (``where`` says where in the query)."""
    pivot = name.split(".", 1)[1] if "." in name else ""
    at = f" ({where})" if where else ""
    known = ", ".join(PIVOT_NAMES)
    if pivot not in PIVOT_NAMES:
        raise QueryError(f"unknown pivot {pivot!r} in {name!r}{at}; pivots: {known}")
    field = _FIELD_PREFIX + pivot
    if field not in KINDS[kind].FIELDS:
        carriers = ", ".join(k for k, cls in KINDS.items() if field in cls.FIELDS)
        raise QueryError(f"{kind} documents carry no pivots{at}; {carriers} do")
    return field
