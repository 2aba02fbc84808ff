"""Exports: an untouched one verifies with the right key; every tamper is named."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from evidence.keys import SigningKey, public_pem
from evidence.verify import verify_export
from tests.evidence.helpers import IH, make_export


@pytest.fixture
def bundle(tmp_path: Path, data_dir: Path, key: SigningKey) -> Path:
    out = tmp_path / "export"
    manifest = make_export(data_dir, key, out)
    assert manifest["records"] == 45 and manifest["logs"][0]["tree_size"] == 90
    return out


def problems(bundle: Path, key: SigningKey) -> str:
    report = verify_export(bundle, key.public)
    assert not report.ok
    return "\n".join(report.problems)


def rows(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def fix_sums(bundle: Path) -> None:
    """What a careful forger does after each change: recompute SHA256SUMS."""
    files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*")
                   if p.is_file() and p.name != "SHA256SUMS")
    (bundle / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((bundle / f).read_bytes()).hexdigest()}  {f}\n" for f in files))


def fix_manifest(bundle: Path, records: int) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["records"] = records
    manifest["logs"][0]["records"] = records
    manifest["records_sha256"] = hashlib.sha256((bundle / "records.jsonl").read_bytes()
                                                ).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def test_untouched_export_verifies_with_the_right_key(bundle: Path, key: SigningKey) -> None:
    report = verify_export(bundle, key.public)
    assert report.ok, report.problems
    assert (report.records, report.key_checked) == (45, True)
    assert report.heads == 3  # the two older heads that first sealed records, and the newest


def test_without_a_key_only_internal_consistency(bundle: Path) -> None:
    report = verify_export(bundle)
    assert report.ok and not report.key_checked
    assert any("only internal consistency" in n for n in report.notes)


def test_another_installations_key_fails(bundle: Path, other_key: SigningKey) -> None:
    text = problems(bundle, other_key)
    assert "not trusted" in text and "manifest.json" in text


@pytest.mark.parametrize("cut", [1, 20])
def test_records_cut_with_manifest_and_sums_fixed(bundle: Path, key: SigningKey,
                                                  cut: int) -> None:
    lines = rows(bundle / "records.jsonl")
    (bundle / "records.jsonl").write_text("".join(lines[:-cut]))
    fix_manifest(bundle, len(lines) - cut)
    fix_sums(bundle)
    assert "manifest.json: its signature" in problems(bundle, key)


def test_records_cut_alone(bundle: Path, key: SigningKey) -> None:
    lines = rows(bundle / "records.jsonl")
    (bundle / "records.jsonl").write_text("".join(lines[:-1]))
    text = problems(bundle, key)
    assert "'records.jsonl' does not match its SHA-256" in text
    assert "44 records, the manifest lists 45" in text


def test_level_two_records_removed(bundle: Path, key: SigningKey) -> None:
    lines = rows(bundle / "records.jsonl")
    kept = [r for r in lines if json.loads(json.loads(r)["entry"])["data"]["level"] != 2]
    assert len(kept) < len(lines)
    (bundle / "records.jsonl").write_text("".join(kept))
    fix_manifest(bundle, len(kept))
    fix_sums(bundle)
    assert "signature" in problems(bundle, key)


def test_edited_record_is_named(bundle: Path, key: SigningKey) -> None:
    lines = rows(bundle / "records.jsonl")
    row = json.loads(lines[6])
    row["entry"] = row["entry"].replace('"level":', '"level":9,"x":')
    lines[6] = json.dumps(row) + "\n"
    (bundle / "records.jsonl").write_text("".join(lines))
    fix_sums(bundle)
    assert "records.jsonl:7 (record 7): not in the log at index" in problems(bundle, key)


def test_inserted_and_reordered_records(bundle: Path, key: SigningKey) -> None:
    lines = rows(bundle / "records.jsonl")
    lines.insert(3, lines[10])
    (bundle / "records.jsonl").write_text("".join(lines))
    assert "records.jsonl:5 (record 5): out of order or repeated" in problems(bundle, key)
    lines = rows(bundle / "records.jsonl")
    del lines[3]
    lines[1], lines[2] = lines[2], lines[1]
    (bundle / "records.jsonl").write_text("".join(lines))
    fix_sums(bundle)
    text = problems(bundle, key)
    assert "records.jsonl:3 (record 3): out of order" in text and "records_sha256" in text


def test_forged_record_appended(bundle: Path, key: SigningKey) -> None:
    lines = rows(bundle / "records.jsonl")
    row = json.loads(lines[-1])
    row["index"] = 89
    row["entry"] = json.dumps({"seq": 90, "at": "2026-12-01T00:00:00+00:00",
                               "data": {"infohash": IH, "ip": "127.9.9.9"}})
    (bundle / "records.jsonl").write_text("".join([*lines, json.dumps(row) + "\n"]))
    fix_manifest(bundle, len(lines) + 1)
    fix_sums(bundle)
    text = problems(bundle, key)
    assert "records.jsonl:46 (record 46): not in the log" in text


def test_extra_and_missing_files(bundle: Path, key: SigningKey) -> None:
    (bundle / "notes.txt").write_text("added later\n")
    head_sig = sorted((bundle / "heads").glob("*.sig"))[0]
    head_sig.unlink()
    text = problems(bundle, key)
    assert "'notes.txt': extra file" in text
    assert f"'heads/{head_sig.name}' is missing" in text


def test_a_head_changed(bundle: Path, key: SigningKey) -> None:
    lines = rows(bundle / "heads.jsonl")
    head = json.loads(lines[0])
    head["root"] = "00" * 32
    lines[0] = json.dumps(head) + "\n"
    (bundle / "heads.jsonl").write_text("".join(lines))
    fix_sums(bundle)
    assert "heads.jsonl:1: the signature does not verify" in problems(bundle, key)


def test_signatures_verify_with_openssl(bundle: Path, key: SigningKey, tmp_path: Path) -> None:
    pub = tmp_path / "pub.pem"
    pub.write_bytes(public_pem(key.public))
    for msg in sorted((bundle / "heads").glob("*.msg")):
        done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub),
                               "-rawin", "-in", str(msg), "-sigfile",
                               str(msg.with_suffix(".sig"))], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout
    done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub),
                           "-rawin", "-in", str(bundle / "manifest.json"), "-sigfile",
                           str(bundle / "manifest.sig")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    forged = tmp_path / "forged.msg"
    forged.write_bytes(b"x" + (bundle / "manifest.json").read_bytes())
    done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub),
                           "-rawin", "-in", str(forged), "-sigfile",
                           str(bundle / "manifest.sig")], capture_output=True, check=False)
    assert done.returncode == 1


def test_export_refuses_a_tampered_log(tmp_path: Path, data_dir: Path, key: SigningKey) -> None:
    from evidence.errors import EvidenceError
    from tests.evidence.helpers import make_export as again

    first = tmp_path / "first"
    again(data_dir, key, first)
    log = data_dir / "evidence" / "probe-1.chain.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-2]))
    shutil.rmtree(first)
    from evidence.export import Source, export
    from evidence.sealedlog import SealedLog
    from tests.evidence.helpers import wanted

    with pytest.raises(EvidenceError, match=r"records 89\.\.90: missing"):
        export([Source(SealedLog(log, "probe/probe-1"), wanted)], tmp_path / "second",
               key=key, data_dir=data_dir, tool_version="9", config_sha256="c",
               selector={"infohash": IH})
