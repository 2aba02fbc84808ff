"""Two probes seeing the same peer keep two records; views combine them, exports list both."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from config import Settings
from config.sections.evidence import EvidenceSettings
from documents import Observation
from documents.observation import combine_probes
from heroes.cli import main
from index.spool import Spool
from monitors.evidence import open_probe_log, probe_sealer
from monitors.peers import Sighting
from monitors.recorder import Recorder
from monitors.targets import Target

V1 = "33" * 20
PEER = ("127.0.0.20", 6881)


def test_two_probes_keep_both_records_and_the_export_lists_both(tmp_path: Path) -> None:
    data, key = tmp_path / "data", tmp_path / "keys" / "signing.pem"
    env = {"HEROES_EVIDENCE__SIGNING_KEY_FILE": str(key)}
    runner = CliRunner()
    assert runner.invoke(main, ["--data-dir", str(data), "keys", "init"], env=env).exit_code == 0
    spool = Spool(data / "spool.sqlite")
    settings = Settings(data_dir=data, evidence=EvidenceSettings(signing_key_file=key))
    t0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    targets = {V1: Target(V1, None)}
    for n, source in ((1, "dht"), (2, "pex")):
        log = open_probe_log(data, f"probe-{n}")
        rec = Recorder(probe_id=f"probe-{n}", version="test", spool=spool, evidence=log,
                       target_of=targets.get, refresh_s=3600)
        rec.add([Sighting(V1, *PEER, t0 + timedelta(seconds=n), frozenset({source}))])
        assert probe_sealer(settings, log).seal_once()
    docs = [d.body for d in spool.peek(100) if d.kind == "observation"]
    spool.close()
    assert len(docs) == 2
    assert {d["probe_id"] for d in docs} == {"probe-1", "probe-2"}
    ids = {Observation(**d).id for d in docs}
    assert len(ids) == 2  # the probe id is part of the id: neither overwrites the other
    assert len({d["chain_hash"] for d in docs}) == 2 and all(d["chain_hash"] for d in docs)

    rows = combine_probes([{**d, "id": Observation(**d).id} for d in docs])
    assert len(rows) == 1
    assert rows[0]["sources"] == ["dht", "pex"]
    assert sorted(p["probe_id"] for p in rows[0]["probes"]) == ["probe-1", "probe-2"]
    assert {p["chain_hash"] for p in rows[0]["probes"]} == {d["chain_hash"] for d in docs}

    out = tmp_path / "bundle"
    result = runner.invoke(main, ["--data-dir", str(data), "evidence", "export", "--infohash",
                                  V1, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["records"] == 2
    assert manifest["summary"]["probe_ids"] == ["probe-1", "probe-2"]
    assert manifest["summary"]["peers"] == 1
