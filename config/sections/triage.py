"""Settings of peer triage (the ``triage`` package, ``heroes peers``, the console's peers view).

The priority score of a peer is a sum of weighted terms, each shown with its value:

- ``swarms``: ``weight_swarms * log2(1 + distinct flagged swarms)``;
- ``severity``: ``weight_severity * s``, ``s`` the highest severity of its swarms (the
  ``severity`` table maps a hash list's category to 0..3; ``default_severity`` otherwise);
- ``level``: ``weight_level * L``, the highest evidence level reached (0..3);
- ``persistence``: ``weight_persistence * log2(1 + days between first and last seen)``;
- ``recency``: ``weight_recency * 0.5 ** (days since last seen / recency_half_life_days)``;
- ``completeness``: ``weight_completeness * f``, the largest share of a flagged torrent's
  pieces it announced (1.0: the whole files).

Peers that completed a handshake (level 1 or more) always rank above peers only reported
by a tracker, the DHT or PEX (level 0), whatever their scores.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from config.sections.base import Section


class TriageSettings(Section):
    weight_swarms: float = Field(
        3.0, ge=0, le=100, description="Weight of log2(1 + distinct flagged swarms).")
    weight_severity: float = Field(
        2.0, ge=0, le=100, description="Weight of the highest severity (0..3) of its swarms.")
    weight_level: float = Field(
        1.5, ge=0, le=100, description="Weight of the highest evidence level (0..3) reached.")
    weight_persistence: float = Field(
        1.0, ge=0, le=100, description="Weight of log2(1 + days between first and last seen).")
    weight_recency: float = Field(
        1.0, ge=0, le=100, description="Weight of 0.5 ** (days since last seen / half-life).")
    weight_completeness: float = Field(
        2.0, ge=0, le=100,
        description="Weight of the largest piece fraction announced in a flagged swarm.")
    recency_half_life_days: float = Field(
        7.0, gt=0, le=3650, description="Days after which the recency term has halved.")
    severity: dict[str, int] = Field(
        default_factory=dict,
        description="Severity (0..3) of each hash-list category, e.g. {\"a\" = 3, \"b\" = 2}.")
    default_severity: int = Field(
        1, ge=0, le=3, description="Severity of a flagged swarm whose category is not listed.")
    continuity_window_s: float = Field(
        6 * 3600.0, gt=0, le=30 * 86_400,
        description="A peer id (or client) seen on a new address within this many seconds "
        "of the old one is shown as a possible same host (never merged).")
    max_peers: int = Field(
        1_000_000, ge=1, le=100_000_000,
        description="Most peers one ranking reads from the index; more is an error that "
        "asks for a narrower --since.")

    @field_validator("severity")
    @classmethod
    def _severities(cls, value: dict[str, int]) -> dict[str, int]:
        for category, level in value.items():
            if not isinstance(level, int) or not 0 <= level <= 3:
                raise ValueError(f"severity of category {category!r} must be 0..3, "
                                 f"got {level!r}")
        return value
