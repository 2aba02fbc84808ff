"""One crawl's view of a service's access: the fetches' verdicts folded into one state.

A service's state after a crawl is ``content`` when its content pages are at least as many
as its challenge pages; otherwise the challenge seen most often (a login wall behind a
public front page is still a login wall). ``service_fields`` gives the ``service``
document's ``access``, ``access_why``, one ``access_history`` entry and ``last_content``.
Reads no settings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler.access.classify import CONTENT, Access
from documents.service import AccessCheck


@dataclass
class HostAccess:
    counts: Counter[str] = field(default_factory=Counter)
    why: dict[str, str] = field(default_factory=dict)
    last_content: datetime | None = None

    def note(self, access: Access, at: datetime) -> None:
        self.counts[access.state] += 1
        self.why.setdefault(access.state, access.why)
        if not access.challenge:
            self.last_content = max(at, self.last_content or at)

    def state(self) -> str:
        """The folded state ('' when nothing was classified)."""
        if not self.counts:
            return ""
        challenges = [(n, s) for s, n in self.counts.items() if s != CONTENT]
        content = self.counts.get(CONTENT, 0)
        if not challenges or content >= sum(n for n, _ in challenges):
            return CONTENT
        return max(challenges)[1]

    def service_fields(self, now: datetime) -> dict[str, Any]:
        state = self.state()
        if not state:
            return {}
        why = self.why.get(state, "")
        if state == CONTENT:
            why = f"{self.counts[CONTENT]} content pages"
        return {
            "access": state,
            "access_why": why,
            "access_history": [AccessCheck(at=now, state=state, why=why)],
            "last_content": self.last_content,
        }
