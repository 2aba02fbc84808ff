"""Incremental clusters: regroup the members a batch touched and say which documents change.

:func:`update_clusters` takes the members marked dirty in the store (a new value, page or
state), adds the members of the clusters they are in (a cluster can also split when a
value becomes common), finds the connected groups around them (:class:`analysis.graph.Graph`)
and gives each group of two or more an id: the oldest live cluster among its members keeps
its id, the other live ones are merged into it; a group with none gets the key of its first
member (oldest first seen; a service before a torrent). It returns the ``cluster``
documents to write (leaving out one equal to the document last written for its cluster)
and a commit function recording the new assignment and clearing the dirty marks; the
caller spools the documents first and commits after, so a crash in between only writes the
same documents again. ``updated_at`` is the latest time a member was seen, so a rerun over
the same records yields the same documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime

from analysis.graph import EdgeRow, Graph
from analysis.state import AnalysisDB
from documents.cluster import Cluster, Edge, Member


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def update_clusters(db: AnalysisDB, graph: Graph) -> tuple[list[Cluster], Callable[[], None]]:
    dirty = db.dirty_members()
    if not dirty:
        return [], lambda: None
    seeds = list(dirty)
    before: dict[str, str] = {}
    for member in dirty:
        info = db.member(member)
        if info and info["cluster"]:
            before[member] = info["cluster"]
            for other in db.cluster_members(info["cluster"]):
                before[other] = info["cluster"]
                seeds.append(other)
    groups = graph.components(dict.fromkeys(seeds))
    touched_ids = {c for c in before.values() if db.cluster_seq(c) is not None}
    seq = db.next_cluster_seq()
    assignment: dict[str, str | None] = {}
    claimed: dict[str, tuple[list[str], int]] = {}
    for group in groups:
        for member in group:
            info = db.member(member)
            if info and info["cluster"] and member not in before:
                before[member] = info["cluster"]
                if db.cluster_seq(info["cluster"]) is not None:
                    touched_ids.add(info["cluster"])
        if len(group) < 2:
            assignment[group[0]] = None
            continue
        live = sorted({before[m] for m in group if m in before and m in before
                       and db.cluster_seq(before[m]) is not None and before[m] not in claimed},
                      key=lambda c: (db.cluster_seq(c), c))
        if live:
            cid, created = live[0], db.cluster_seq(live[0]) or 0
        else:
            first = min(group, key=lambda m: _age(db, m))
            cid, created = first, seq
            seq += 1
        claimed[cid] = (group, created)
        for member in group:
            assignment[member] = cid
    docs = [_document(db, graph, cid, group) for cid, (group, _) in claimed.items()]
    gone = sorted(touched_ids - set(claimed))
    for cid in gone:
        survivor = next((assignment[m] for m in db.cluster_members(cid)
                         if assignment.get(m)), "") or ""
        docs.append(Cluster(cluster_id=cid, updated_at=_latest(db, db.cluster_members(cid)),
                            merged_into=survivor))

    digests = {d.cluster_id: _digest(d) for d in docs}
    changed = [d for d in docs if digests[d.cluster_id] != db.cluster_digest(d.cluster_id)]

    def commit() -> None:
        with db.transaction() as conn:
            for cid, (_, created) in claimed.items():
                conn.execute(
                    "INSERT INTO clusters VALUES (?, ?, '', ?) ON CONFLICT (cluster) DO UPDATE "
                    "SET merged_into = '', digest = excluded.digest", (cid, created, digests[cid]))
            for cid in gone:
                survivor = next((d.merged_into for d in docs if d.cluster_id == cid), "")
                conn.execute("UPDATE clusters SET merged_into = ?, digest = ? WHERE cluster = ?",
                             (survivor or "-", digests[cid], cid))
            for member, cid in assignment.items():
                conn.execute("UPDATE members SET cluster = ? WHERE member = ?", (cid, member))
            conn.executemany("UPDATE members SET dirty = 0 WHERE member = ?",
                             [(m,) for m in dirty])

    return changed, commit


def _age(db: AnalysisDB, member: str) -> tuple[bool, int, str]:
    # A cluster is named after a service when it has one: the torrents follow the services.
    info = db.member(member) or {}
    return (info.get("kind") != "service", int(info.get("first_ms", 0)), member)


def _digest(doc: Cluster) -> str:
    return hashlib.sha256(json.dumps(doc.source(), sort_keys=True).encode()).hexdigest()


def _latest(db: AnalysisDB, members: list[str]) -> datetime:
    times = [(db.member(m) or {}).get("last_ms", 0) for m in members]
    return _time(max(times, default=0))


def _document(db: AnalysisDB, graph: Graph, cid: str, group: list[str]) -> Cluster:
    members = []
    for key in group:
        info = db.member(key) or {"kind": "service", "first_ms": 0, "last_ms": 0}
        members.append(Member(kind=info["kind"], key=key, first_seen=_time(info["first_ms"]),
                              last_seen=_time(info["last_ms"])))
    edges = [_edge(e) for e in graph.edges_within(group)]
    return Cluster(cluster_id=cid, members=members, edges=edges, size=len(members),
                   score=round(sum(e.weight for e in edges), 3),
                   updated_at=_latest(db, group))


def _edge(e: EdgeRow) -> Edge:
    return Edge(a=e.a, b=e.b, type=e.type, value=e.value, weight=e.weight,
                a_first_seen=_time(e.a_first_ms), a_last_seen=_time(e.a_last_ms),
                b_first_seen=_time(e.b_first_ms), b_last_seen=_time(e.b_last_ms),
                a_record=e.a_record, b_record=e.b_record)
