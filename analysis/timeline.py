"""Where and when a phone number or an e-mail address appeared: its timeline.

Built from the analysis store's appearances (every page that carried the value: when, on
which service, in which language, at which URL), grouped into spans per service: how
adverts move between places. An advert on an ad board is a cluster member of its own (keyed
by its URL), but on the timeline it is the board that carried it: spans are per service,
the host of the page, and list the adverts' URLs. The value is brought to its canonical form
first by the identifier registry (an E.164 phone, a lower-cased e-mail), so every spelling
finds it.
Reads no settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from analysis.state import AnalysisDB
from identifiers import IDENTIFIERS, InvalidIdentifier


@dataclass(frozen=True)
class Span:
    service: str
    first_seen: datetime
    last_seen: datetime
    pages: int
    langs: tuple[str, ...]
    records: tuple[str, ...]
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Timeline:
    type: str
    value: str
    spans: list[Span] = field(default_factory=list)

    @property
    def services(self) -> list[str]:
        return [s.service for s in self.spans]


def canonical(value: str) -> tuple[str, str]:
    """(type, canonical value) of a phone or e-mail as written; raises InvalidIdentifier."""
    kind = "email" if "@" in value else "phone"
    return kind, IDENTIFIERS.get(kind).parse(value)


def timeline(db: AnalysisDB, value: str) -> Timeline:
    kind, canon = canonical(value)
    rows = [r for r in db.appearances(canon) if r["type"] == kind]
    spans: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        spans.setdefault(_service(row), []).append(row)
    built = []
    for service, items in spans.items():
        built.append(Span(
            service=service,
            first_seen=_time(items[0]["at_ms"]), last_seen=_time(items[-1]["at_ms"]),
            pages=len(items),
            langs=tuple(sorted({i["lang"] for i in items if i["lang"]})),
            records=tuple(i["record"] for i in items),
            urls=tuple(dict.fromkeys(i["url"] for i in items if i["url"])),
        ))
    built.sort(key=lambda s: (s.first_seen, s.service))
    return Timeline(kind, canon, built)


def _service(row: dict[str, Any]) -> str:
    """The service that carried the value: the page's host (a board's adverts are members of
    their own, the board is their service), the member where no page URL was recorded."""
    host = urlsplit(row["url"]).hostname if row["url"] else None
    return host or str(row["member"])


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


__all__ = ["InvalidIdentifier", "Span", "Timeline", "canonical", "timeline"]
