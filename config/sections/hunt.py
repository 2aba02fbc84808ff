"""Settings of the retro-hunt (``index.hunt``, ``heroes hunt``): a list or rule over the index.

The hunt reads each document kind in pages of ``batch_size`` documents (oldest first),
matches a page in one pass, raises its alerts and spools the flagged documents, then
records how far it got; ``batch_pause_s`` leaves the machine to the other roles between
pages.
"""

from __future__ import annotations

from pydantic import Field

from config.sections.base import Section


class HuntSettings(Section):
    batch_size: int = Field(
        2000, ge=1, le=10_000,
        description="Documents read, matched and checkpointed at a time.",
    )
    batch_pause_s: float = Field(
        0.0, ge=0, le=60,
        description="Seconds to pause between batches (0: none), to leave the machine to the "
        "crawl, the probe and the drain.",
    )
