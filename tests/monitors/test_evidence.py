"""The probe's sealed evidence log: the recorder writes it, exports verify, tampering is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from config.sections.evidence import EvidenceSettings
from evidence.export import MANIFEST, RECORDS
from heroes.cli import main
from index.spool import Spool
from monitors.evidence import log_path, open_probe_log, probe_sealer
from monitors.peers import Sighting
from monitors.recorder import Recorder
from monitors.targets import Target

V1 = "11" * 20
OTHER = "22" * 20


class Inst:
    def __init__(self, tmp_path: Path):
        self.data = tmp_path / "data"
        self.key = tmp_path / "keys" / "signing.pem"
        self.env = {"HEROES_EVIDENCE__SIGNING_KEY_FILE": str(self.key)}

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--data-dir", str(self.data), *args], env=self.env)


@pytest.fixture()
def inst(tmp_path: Path) -> Inst:
    """A data dir whose probe log holds 6 observations of V1 and 2 of another swarm, sealed."""
    inst = Inst(tmp_path)
    assert inst.run("keys", "init").exit_code == 0
    spool = Spool(inst.data / "spool.sqlite")
    targets = {V1: Target(V1, None), OTHER: Target(OTHER, None)}
    log = open_probe_log(inst.data, "probe-1")
    rec = Recorder(probe_id="probe-1", version="test", spool=spool, evidence=log,
                   target_of=targets.get, refresh_s=3600)
    t0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    for i in range(6):
        rec.add([Sighting(V1, f"127.0.0.{10 + i}", 6881, t0 + timedelta(seconds=i),
                          frozenset({"dht"}))])
        if i % 3 == 0:
            rec.add([Sighting(OTHER, "127.0.0.40", 6881 + i, t0, frozenset({"pex"}))])
    spool.close()
    from config import Settings

    settings = Settings(data_dir=inst.data, evidence=EvidenceSettings(signing_key_file=inst.key))
    assert probe_sealer(settings, log).seal_once()
    return inst


def export(inst: Inst, out: Path) -> dict:
    result = inst.run("evidence", "export", "--infohash", V1, "--out", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["records"] == 6 and manifest["selector"] == {"infohash": V1}
    assert manifest["summary"]["probe_ids"] == ["probe-1"] and manifest["config_sha256"]
    assert manifest["summary"]["first"] <= manifest["summary"]["last"]
    return manifest


def test_untouched_export_verifies_against_the_installation_key(inst: Inst,
                                                                tmp_path: Path) -> None:
    export(inst, tmp_path / "b")
    pub = tmp_path / "pub.pem"
    inst.run("keys", "export-public", str(pub))
    result = inst.run("evidence", "verify", str(tmp_path / "b"), "--key", str(pub))
    assert result.exit_code == 0, result.output
    assert "ok: 6 records" in result.output
    records = [json.loads(x) for x in (tmp_path / "b" / RECORDS).read_text().splitlines()]
    assert all(json.loads(r["entry"])["data"]["infohash"] == V1 for r in records)


def test_check_names_records_deleted_from_the_probe_log(inst: Inst, tmp_path: Path) -> None:
    path = log_path(inst.data, "probe-1")
    rows = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(rows[:-2]))
    result = inst.run("evidence", "check")
    assert result.exit_code == 1 and "records 7..8: missing" in result.output
    refused = inst.run("evidence", "export", "--infohash", V1, "--out", str(tmp_path / "x"))
    assert refused.exit_code == 1 and "refusing to export" in refused.output


def test_check_names_an_edited_record(inst: Inst) -> None:
    path = log_path(inst.data, "probe-1")
    rows = path.read_bytes().splitlines(keepends=True)
    rows[2] = rows[2].replace(b"127.0.0.11", b"127.0.0.99")
    path.write_bytes(b"".join(rows))
    result = inst.run("evidence", "check")
    assert result.exit_code == 1 and "record 3: edited" in result.output


def test_export_refuses_unknown_infohash_and_nonempty_dir(inst: Inst, tmp_path: Path) -> None:
    result = inst.run("evidence", "export", "--infohash", "33" * 20, "--out",
                      str(tmp_path / "x"))
    assert result.exit_code == 1 and "no observation of infohash '" + "33" * 20 in result.output
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "f").write_text("x")
    result = inst.run("evidence", "export", "--infohash", V1, "--out", str(busy))
    assert result.exit_code == 1 and "exists and is not empty" in result.output


def test_manifest_change_is_caught(inst: Inst, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    export(inst, bundle)
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["summary"]["last"] = "2030-01-01T00:00:00+00:00"
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    result = inst.run("evidence", "verify", str(bundle))
    assert result.exit_code == 1
    assert "'manifest.json' does not match its SHA-256" in result.output
    assert "manifest.json: its signature" in result.output
