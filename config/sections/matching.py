"""Settings of flagged-value matching at ingest (read by index.matching and index.hashsets)."""

from __future__ import annotations

from typing import Literal

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
    cluster_lists: bool = Field(
        True,
        description="With the elasticsearch backend, hash lists live in the cluster: an import "
        "publishes its list there and every machine's matching follows (each "
        "reload_check_s) into its local store.",
    )
    reload_check_s: float = Field(
        2.0,
        gt=0,
        le=600,
        description="How often the matcher looks for changed hash lists, in seconds.",
    )
    vpdq_match_fraction: float = Field(
        0.8,
        gt=0,
        le=1,
        description="A video matches a vPDQ entry when this share of its distinct frames is "
        "within pdq_max_distance of the entry's frames (it is a clip or copy of the entry), or "
        "this share of the entry's distinct frames is within it of the video's (it holds the "
        "entry, with frames added); frames below pdq_min_quality are not compared.",
    )
    vpdq_require_both: bool = Field(
        False,
        description="Match a vPDQ entry only when both shares pass vpdq_match_fraction "
        "(the same content, neither a clip nor a compilation).",
    )
    flood_hits: int = Field(
        100,
        ge=1,
        description="A flagged value with more hits than this within flood_window_s is "
        "quarantined: its further hits are held, not flagged, until an admin releases or "
        "removes it (heroes hashes quarantine).",
    )
    flood_window_s: float = Field(
        3600.0,
        gt=0,
        description="The window, in seconds, in which flood_hits are counted.",
    )
    flood_kinds: list[Literal["page", "observation", "torrent", "service"]] = Field(
        default_factory=lambda: ["page"],
        description="Document kinds whose hits count towards the flood quarantine (the "
        "observations of a watched swarm are the probe doing its job, not a flood).",
    )
