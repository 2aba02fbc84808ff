"""The link graph over the analysis store: who is linked to whom, by which values, how much.

Two members are linked when the values they share weigh together at least ``min_weight``:
a strong value weighs 1, a weak one ``weak_weight``, a pair of near-duplicate pages
(estimated Jaccard similarity at least the MinHash threshold) 1, and so does a pair of pages
with near-identical images (PDQ within the distance), once per kind of pair. A value the
``common`` test calls common is never a link (nor shown as an edge). Clusters are the
connected groups of linked members. :func:`components` finds the groups around some
members by walking the store; :func:`edges_within` lists the edges of one group, one per
value (a value carried by many members is shown as edges from its first carrier, which is
enough to defend every link and keeps a big group's document small). Reads no settings:
the weights come in as :class:`LinkPolicy`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from analysis.state import AnalysisDB
from analysis.values import strength


class Commonness(Protocol):
    def is_common(self, name: str, value: str) -> bool: ...


class NothingCommon:
    """No value is common (tests, and installations without the common-values list)."""

    def is_common(self, name: str, value: str) -> bool:
        return False


@dataclass(frozen=True)
class LinkPolicy:
    min_weight: float = 1.0
    weak_weight: float = 0.25
    # A value carried by more members than this is not followed (a safety net under the
    # common-value test: one such value would make every carrier one cluster).
    max_carriers: int = 200
    max_edges: int = 2000


@dataclass(frozen=True)
class EdgeRow:
    a: str
    b: str
    type: str
    value: str
    weight: float
    a_first_ms: int
    a_last_ms: int
    b_first_ms: int
    b_last_ms: int
    a_record: str
    b_record: str


class Graph:
    def __init__(self, db: AnalysisDB, policy: LinkPolicy, common: Commonness):
        self.db = db
        self.policy = policy
        self.common = common

    def weight(self, type_: str) -> float:
        return 1.0 if strength(type_) == "strong" else self.policy.weak_weight

    def _linking(self, type_: str, value: str) -> bool:
        return not self.common.is_common(type_, value)

    def neighbours(self, member: str) -> dict[str, float]:
        """Every member sharing a linking value with ``member``, with the summed weight."""
        weights: dict[str, float] = defaultdict(float)
        for type_, value in self.db.values_of(member):
            if not self._linking(type_, value):
                continue
            carriers = self.db.carriers(type_, value, self.policy.max_carriers + 1)
            if len(carriers) > self.policy.max_carriers:
                continue
            w = self.weight(type_)
            for other, *_ in carriers:
                if other != member:
                    weights[other] += w
        near = {(t, b if a == member else a)
                for t, _, _, a, b, _, _, _ in self.db.near_of(member)}
        for _, other in near:
            if other != member:
                weights[other] += 1.0
        return dict(weights)

    def linked(self, member: str) -> list[str]:
        return sorted(m for m, w in self.neighbours(member).items()
                      if w >= self.policy.min_weight - 1e-9)

    def components(self, seeds: Iterable[str]) -> list[list[str]]:
        """The connected groups containing ``seeds`` (each sorted; singletons included)."""
        placed: set[str] = set()
        groups = []
        for seed in seeds:
            if seed in placed:
                continue
            group, todo = {seed}, [seed]
            while todo:
                for other in self.linked(todo.pop()):
                    if other not in group:
                        group.add(other)
                        todo.append(other)
            placed |= group
            groups.append(sorted(group))
        return groups

    def edges_within(self, members: list[str]) -> list[EdgeRow]:
        inside = set(members)
        edges: dict[tuple[str, str, str, str], EdgeRow] = {}
        shown: set[tuple[str, str]] = set()
        for member in members:
            for type_, value in self.db.values_of(member):
                if (type_, value) in shown or not self._linking(type_, value):
                    continue
                shown.add((type_, value))
                carriers = self.db.carriers(type_, value, self.policy.max_carriers + 1)
                if len(carriers) > self.policy.max_carriers:
                    continue
                carriers = [c for c in carriers if c[0] in inside]
                if len(carriers) < 2:
                    continue
                first = carriers[0]
                for other in carriers[1:]:
                    edges[(first[0], other[0], type_, value)] = EdgeRow(
                        first[0], other[0], type_, value, self.weight(type_),
                        first[1], first[2], other[1], other[2], first[3], other[3])
            for type_, a_rec, b_rec, a, b, a_ms, b_ms, score in self.db.near_of(member):
                if a in inside and b in inside and a != b:
                    value = (f"jaccard {score:.2f}" if type_ == "text_near"
                             else f"distance {score:g}")
                    edges[(a, b, type_, f"{a_rec}~{b_rec}")] = EdgeRow(
                        a, b, type_, value, 1.0, a_ms, a_ms, b_ms, b_ms, a_rec, b_rec)
        ordered = sorted(edges.values(), key=lambda e: (e.a, e.b, e.type, e.value))
        return ordered[:self.policy.max_edges]
