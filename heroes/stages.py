"""The drain stages an installation runs on every document it indexes."""

from __future__ import annotations

from config import Settings
from index.drain import DrainStage
from index.store import Store


def drain_stages(settings: Settings, store: Store) -> list[DrainStage]:
    """Matching and alert rules join here when configured."""
    return []
