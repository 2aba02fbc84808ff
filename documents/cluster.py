"""``cluster``: services, torrents and pages run by the same people, and why they are linked.

One document per cluster. ``cluster_id`` is stable: the key of the first member the cluster
was created for; when two clusters merge the older id survives and the other document is
kept with ``merged_into`` naming the survivor and no members. Every edge says which value
linked its two members (``type``: a pivot name, or ``wallet``, ``pgp``, ``email``, ``phone``,
``text_near``, ``pdq_near``), its weight, when each side carried the value (first and last
seen) and from which record (document ids), so an analyst can defend the link.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from documents.base import Document, Int64, Number, UtcTime
from documents.fields import FieldType


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["service", "torrent", "page"]
    key: str = Field(..., min_length=1)
    first_seen: UtcTime
    last_seen: UtcTime


class Edge(BaseModel):
    """Two members share ``value`` of ``type``; ``a``/``b`` are member keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    a: str
    b: str
    type: str
    value: str
    weight: Number
    a_first_seen: UtcTime
    a_last_seen: UtcTime
    b_first_seen: UtcTime
    b_last_seen: UtcTime
    a_record: str = ""
    b_record: str = ""


class Cluster(Document):
    KIND: ClassVar[str] = "cluster"
    KEY: ClassVar[tuple[str, ...]] = ("cluster_id",)
    TIME_FIELD: ClassVar[str] = "updated_at"
    FIELDS: ClassVar[dict[str, FieldType]] = {
        "cluster_id": FieldType.KEYWORD,
        "members.key": FieldType.KEYWORD,
        "members.kind": FieldType.KEYWORD,
        "edges.type": FieldType.KEYWORD,
        "edges.value": FieldType.KEYWORD,
        "size": FieldType.LONG,
        "score": FieldType.DOUBLE,
        "updated_at": FieldType.DATE,
        "merged_into": FieldType.KEYWORD,
    }

    cluster_id: str = Field(..., min_length=1)
    members: list[Member] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    size: Int64 = Field(0, ge=0)
    score: Number = 0.0
    updated_at: UtcTime
    merged_into: str = ""
