"""Evidence bundles: an untouched export verifies; every kind of tampering is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from heroes.cli import main
from index.chainlog import ChainLog
from index.spool import Spool
from monitors.evidence import MANIFEST, RECORDS, SUMS, log_path
from monitors.peers import Sighting
from monitors.recorder import Recorder
from monitors.targets import Target

V1 = "11" * 20
OTHER = "22" * 20


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    """A data dir whose probe log holds 6 observations of V1 and 2 of another swarm."""
    data = tmp_path / "data"
    spool = Spool(data / "spool.sqlite")
    targets = {V1: Target(V1, None), OTHER: Target(OTHER, None)}
    rec = Recorder(probe_id="probe-1", version="test", spool=spool,
                   evidence=ChainLog(log_path(data, "probe-1")), target_of=targets.get,
                   refresh_s=3600)
    t0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    for i in range(6):
        rec.add([Sighting(V1, f"127.0.0.{10 + i}", 6881, t0 + timedelta(seconds=i),
                          frozenset({"dht"}))])
        if i % 3 == 0:
            rec.add([Sighting(OTHER, "127.0.0.40", 6881 + i, t0, frozenset({"pex"}))])
    spool.close()
    return data


def export(data: Path, out: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(data), "evidence", "export",
                                       "--infohash", V1, "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["records"] == 6 and manifest["infohash"] == V1
    assert manifest["probe_ids"] == ["probe-1"] and manifest["config_hash"]
    assert manifest["first"] <= manifest["last"]


def verify(bundle: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["evidence", "verify", str(bundle)])
    return result.exit_code, result.output


def lines(bundle: Path) -> list[bytes]:
    return (bundle / RECORDS).read_bytes().splitlines(keepends=True)


def test_untouched_export_verifies(data_dir: Path, tmp_path: Path) -> None:
    export(data_dir, tmp_path / "b")
    code, out = verify(tmp_path / "b")
    assert code == 0, out
    assert "ok: 6 records" in out


@pytest.mark.parametrize("kind,first_bad", [
    ("edit", "record 3:"), ("edit-last", "record 6:"), ("delete", "record 3:"),
    ("delete-last", "record 6:"), ("insert", "record 3:"), ("reorder", "record 2:"),
])
def test_tampering_is_named(data_dir: Path, tmp_path: Path, kind: str, first_bad: str) -> None:
    bundle = tmp_path / "b"
    export(data_dir, bundle)
    rows = lines(bundle)
    if kind == "edit":
        rows[2] = rows[2].replace(b"127.0.0.12", b"127.0.0.99")
    elif kind == "edit-last":
        rows[5] = rows[5].replace(b"127.0.0.15", b"127.0.0.99")
    elif kind == "delete":
        del rows[2]
    elif kind == "delete-last":
        del rows[5]
    elif kind == "insert":
        rows.insert(2, rows[1])
    elif kind == "reorder":
        rows[1], rows[2] = rows[2], rows[1]
    (bundle / RECORDS).write_bytes(b"".join(rows))
    code, out = verify(bundle)
    assert code == 1
    first = out.splitlines()[0]
    assert first_bad in first, out
    assert "SHA256SUMS" in out  # the checksum of records.jsonl no longer matches either


def test_checksum_mismatch_of_manifest(data_dir: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    export(data_dir, bundle)
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["last"] = "2030-01-01T00:00:00+00:00"
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    code, out = verify(bundle)
    assert code == 1 and "'manifest.json' does not match its SHA-256" in out
    (bundle / SUMS).write_text("nonsense\n")
    code, out = verify(bundle)
    assert code == 1 and "SHA256SUMS:1: malformed line 'nonsense'" in out


def test_export_refuses_unknown_infohash_and_nonempty_dir(data_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "evidence", "export",
                                       "--infohash", "33" * 20, "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "no observation of infohash '" + "33" * 20 in result.output
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "f").write_text("x")
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "evidence", "export",
                                       "--infohash", V1, "--out", str(busy)])
    assert result.exit_code == 1 and "exists and is not empty" in result.output


def test_export_refuses_a_broken_probe_log(data_dir: Path, tmp_path: Path) -> None:
    path = log_path(data_dir, "probe-1")
    rows = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([rows[0], *rows[2:]]))
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "evidence", "export",
                                       "--infohash", V1, "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "record 2:" in result.output
    assert "refusing to export from a broken log" in result.output
