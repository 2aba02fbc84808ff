"""One peer explained, and its legal-request export round-tripping to the evidence log."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from evidence.registry import probe_log_path
from evidence.sealedlog import SealedLog
from tests.triage import peer_data as pd
from triage import export
from triage.peer import PeerNotFound
from triage.ranking import Scope
from triage.service import Triage


async def test_peer_facts_and_explanation(triage: Triage) -> None:
    data = await triage.peer(pd.TOP, Scope(), pd.NOW)
    assert data["rank"] == 1 and data["ports"] == [6881, 51413]
    assert data["clients"] == ["qBittorrent 4.6.2"] and data["ext_v"] == ["qB 4.6.2"]
    assert data["peer_id_prefixes"] == ["2d7142343632302d"]
    swarms = {s["infohash"]: s for s in data["swarms"]}
    assert set(swarms) == {pd.SWARM_A, pd.SWARM_B, pd.SWARM_C}
    a = swarms[pd.SWARM_A]
    assert a["name"] == "garden lamp catalogue" and a["severity"] == 3 and a["level"] == 3
    assert a["reasons"][0]["list"] == "lab-list" and a["reasons"][0]["category"] == "a"
    assert data["highest_level"] == 3 and data["highest_level_records"][0]["chain_hash"]
    assert data["days_active"][0] == "2026-11-01" and "2026-11-09" in data["days_active"]
    assert sum(data["hours_utc"]) > 0 and data["hours_local"] is None
    assert data["location"] == {} and data["enrichment"].startswith("off")
    terms = {t["name"]: t for t in data["score"]["terms"]}
    assert set(terms) == {"swarms", "severity", "level", "persistence", "recency",
                          "completeness"}
    assert terms["level"]["points"] == 4.5
    assert any(line.startswith("total") for line in data["score"]["explain"])


async def test_unknown_peer(triage: Triage) -> None:
    with pytest.raises(PeerNotFound):
        await triage.peer("127.20.9.9", Scope(), pd.NOW)


async def test_client_hint_in_show(triage: Triage) -> None:
    data = await triage.peer(pd.MOVED_FROM, Scope(), pd.NOW)
    vias = {(h["via"], h["other_ip"]) for h in data["hints"]}
    assert ("peer id", pd.MOVED_TO) in vias and ("client", pd.MOVED_TO) in vias


async def test_export_one_row_per_sighting_round_trips_by_hash(triage: Triage,
                                                               tmp_path: Path) -> None:
    table, meta = await triage.export_table(pd.TOP)
    # 3 flagged observations, each logged twice (first and last sighting).
    assert len(table) == 6 and meta["without_evidence_records"] == 0
    log = SealedLog(probe_log_path(triage.data_dir, "probe-lab"), "probe/probe-lab")
    records = {r["hash"]: r for r in log.records()}
    for row in table:
        record = records[row["record_hash"]]
        assert record["data"]["ip"] == row["ip"] == pd.TOP
        assert record["data"]["port"] == row["port"]
        assert record["data"]["infohash"] == row["infohash"]
        assert row["seen_at_utc"].endswith("+00:00") and len(row["seen_at_utc"]) == 25
    a_rows = [r for r in table if r["infohash"] == pd.SWARM_A]
    assert a_rows[0]["files"][0] == {"path": "catalogue/lamps.txt", "size": 4096}
    out = tmp_path / "top.csv"
    export.write(out, "csv", pd.TOP, table, meta)
    parsed = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["record_hash"] for r in parsed] == [r["record_hash"] for r in table]
    assert parsed[0]["port"] == "6881" and "lamps.txt (4096 bytes)" in parsed[0]["files"]
    out_json = tmp_path / "top.json"
    export.write(out_json, "json", pd.TOP, table, meta)
    assert json.loads(out_json.read_text())["sightings"] == table


async def test_export_of_observation_without_records(triage: Triage) -> None:
    table, meta = await triage.export_table(pd.MID)
    assert len(table) == 2 and meta["without_evidence_records"] == 2
    assert {r["evidence"] for r in table} == {"none"} and not table[0]["record_hash"]
    assert {r["first_seen_utc"] for r in table} == {"2026-11-06T00:00:00+00:00",
                                                    "2026-11-07T00:00:00+00:00"}


def test_export_format_named_by_suffix() -> None:
    assert export.format_of(Path("x.json"), None) == "json"
    with pytest.raises(Exception, match="format"):
        export.format_of(Path("x.txt"), None)
