"""Settings of flagged-value matching at ingest (read by index.matching and index.hashsets)."""

from __future__ import annotations

from pydantic import Field

from config.sections.base import Section


class MatchingSettings(Section):
    enabled: bool = Field(
        True, description="Mark documents that carry flagged values while they are indexed."
    )
    pdq_max_distance: int = Field(
        31, ge=0, le=128, description="Largest Hamming distance of a PDQ match."
    )
    pdq_min_quality: int = Field(
        50, ge=0, le=100, description="PDQ hashes of lower quality are not matched."
    )
    reload_check_s: float = Field(
        2.0,
        gt=0,
        le=600,
        description="How often the matcher looks for changed hash lists, in seconds.",
    )
