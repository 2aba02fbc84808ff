"""The pivot values of a page or service view, each a search for the others that carry it.

A value is a link to ``/search?kind=<kind>&q=pivot.<name>:"<value>"``; a common one
(:class:`analysis.common.CommonValues`) is shown with why it is common, never linked. A
suppression file that does not read leaves every value linked and says so on the view.
The common values are counted once per generation of the services' index and of the
suppression files (:data:`COMMON`), not per request; a backend that cannot tell its
generation (Elasticsearch) counts them for each view, as its searches are not cached either.
Reads ``[analysis]``.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from analysis.common import CommonValues, SuppressionError
from config.sections.analysis import AnalysisSettings
from documents.pivots import PIVOT_NAMES, PIVOT_PREFIX
from heroes.console.state import READER, SETTINGS
from index.backends.base import Backend

log = logging.getLogger(__name__)


def _stamp(path: object) -> tuple[str, int, int] | None:
    try:
        meta = os.stat(str(path))
    except OSError:
        return None
    return (str(path), meta.st_mtime_ns, meta.st_size)


class CommonCache:
    """The common values of the newest generation seen (one per process)."""

    def __init__(self) -> None:
        self._key: object = None
        self._values: CommonValues | None = None
        self.loads = 0

    async def get(self, settings: AnalysisSettings, backend: Backend) -> CommonValues:
        generation = backend.generation("service")
        if generation is None:
            self.loads += 1
            return await CommonValues.load(settings, backend)
        key = (generation, repr(settings), tuple(_stamp(p) for p in settings.suppress_files))
        if key != self._key or self._values is None:
            # A suppression file that does not read raises here and is tried again next time.
            values = await CommonValues.load(settings, backend)
            self.loads += 1
            self._key, self._values = key, values
        return self._values


COMMON = CommonCache()


def pivot_query(name: str, value: str) -> str:
    """The query string that finds ``value`` of pivot ``name`` (an exact, quoted value)."""
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{PIVOT_PREFIX}{name}:"{quoted}"'


def pivot_rows(kind: str, pivots: dict[str, Any] | None,
               common: CommonValues | None) -> list[dict[str, Any]]:
    """One row per pivot that has values: its label, strength and values, each with its
    search link, or with why it is common (and no link)."""
    rows = []
    for name, spec in PIVOT_NAMES.items():
        values = (pivots or {}).get(name) or []
        if not values:
            continue
        shown = []
        for value in values:
            why = common.why(name, value) if common is not None else ""
            href = "" if why else "/search?" + urlencode(
                {"kind": kind, "q": pivot_query(name, value)})
            shown.append({"value": value, "common": bool(why), "why": why, "href": href})
        rows.append({"name": name, "label": spec.label, "strength": spec.strength,
                     "values": shown})
    return rows


async def view_of(request: web.Request, kind: str,
                  source: dict[str, Any] | None) -> dict[str, Any]:
    """``pivot_rows`` of a document's ``_source``, ``pivot_errors`` and ``pivot_warning``."""
    pivots = (source or {}).get("pivots") or {}
    warning = ""
    common: CommonValues | None = None
    if any(pivots.get(name) for name in PIVOT_NAMES):
        backend = await request.app[READER].get()
        try:
            common = await COMMON.get(request.app[SETTINGS].analysis, backend)
        except SuppressionError as exc:
            log.warning("common values unknown: %s", exc)
            warning = f"common values unknown: {exc}"
    return {
        "pivot_rows": pivot_rows(kind, pivots, common),
        "pivot_errors": list(pivots.get("errors") or []),
        "pivot_warning": warning,
    }
