"""Settings of flagged-value matching at ingest."""

from __future__ import annotations

from pydantic import Field

from config.sections.base import Section


class MatchingSettings(Section):
    pdq_max_distance: int = Field(31, ge=0, le=128, description="Largest Hamming distance of a PDQ match.")
    pdq_min_quality: int = Field(50, ge=0, le=100, description="PDQ hashes of lower quality are not matched.")
