"""Per-kind index shapes and lifecycle of the Elasticsearch backend (``[elasticsearch]``).

The connection settings live in :class:`config.sections.index.ElasticsearchSettings`; this
module holds the tables it nests: ``[elasticsearch.kinds.<kind>]`` (shards and replicas of
one document kind's indices) and the names of the lifecycle choices.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from config.sections.base import Section

IlmMode = Literal["auto", "on", "off"]


class KindIndexSettings(Section):
    shards: int = Field(
        0, ge=0, le=64,
        description="Primary shards of this kind's new indices (0: elasticsearch.shards).",
    )
    replicas: int = Field(
        -1, ge=-1, le=8,
        description="Replicas of this kind's new indices (-1: elasticsearch.replicas).",
    )


def _kind(description: str) -> Any:
    return Field(default_factory=KindIndexSettings, description=description)


class KindsSettings(Section):
    page: KindIndexSettings = _kind("Indices of crawled pages (one per month).")
    service: KindIndexSettings = _kind("The index of onion services.")
    observation: KindIndexSettings = _kind("Indices of peer observations (one per month).")
    torrent: KindIndexSettings = _kind("The index of torrents.")
    hash: KindIndexSettings = _kind("The index of flagged hashes.")
    alert: KindIndexSettings = _kind("The index of alerts.")
    cluster: KindIndexSettings = _kind("The index of clusters (analysis).")
