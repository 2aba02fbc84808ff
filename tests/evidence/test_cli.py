"""``heroes keys``, ``heroes evidence`` and ``heroes audit verify`` end to end, with the lab
TSA and the real openssl binary checking what an export carries."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from config.sections.evidence import EvidenceSettings
from heroes.cli import main
from heroes.console.audit import AuditLog
from heroes.lab import tsa as lab_tsa
from tests.evidence.helpers import IH, probe_log


class Installation:
    def __init__(self, root: Path, tsa_url: str = "", tsa_ca: Path | None = None):
        self.root = root
        self.data = root / "data"
        self.key = root / "secret" / "signing.pem"
        self.env = {"HEROES_EVIDENCE__SIGNING_KEY_FILE": str(self.key),
                    "HEROES_EVIDENCE__TSA_URL": tsa_url,
                    "HEROES_EVIDENCE__TSA_CA_FILE": str(tsa_ca or "")}

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--data-dir", str(self.data), *args], env=self.env)

    @property
    def evidence(self) -> EvidenceSettings:
        return EvidenceSettings(signing_key_file=self.key)


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[lab_tsa.LabTsa]:
    yield lab_tsa.start(tmp_path / "lab")
    lab_tsa.stop(tmp_path / "lab")


def test_commands_without_a_key_say_how_to_make_one(tmp_path: Path) -> None:
    inst = Installation(tmp_path)
    for args in (["keys", "export-public", str(tmp_path / "p.pem")], ["keys", "rotate"],
                 ["evidence", "check"], ["evidence", "seal"], ["audit", "verify"],
                 ["evidence", "export", "--infohash", IH, "--out", str(tmp_path / "x")]):
        result = inst.run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "heroes keys init" in result.output


def test_audit_log_sealed_checked_and_every_tamper_named(tmp_path: Path) -> None:
    inst = Installation(tmp_path)
    assert inst.run("keys", "init").exit_code == 0
    assert inst.run("keys", "init").exit_code == 2  # never overwrites
    audit = AuditLog.for_data_dir(inst.data, inst.evidence)
    for i in range(60):
        audit.record("login_failed" if i % 4 == 0 else "search", user=f"user{i % 5}",
                     address="127.0.0.1", query=f"q{i}")
    sealed = inst.run("evidence", "seal")
    assert sealed.exit_code == 0 and "audit: head of size 60" in sealed.output
    audit.record("logout", user="user1")
    ok = inst.run("audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "60 sealed" in ok.output and "61..61: unsealed" in ok.output
    assert inst.run("evidence", "check").exit_code == 0
    rows = audit.path.read_bytes().splitlines(keepends=True)
    audit.path.write_bytes(b"".join(rows[:-11]))  # the unsealed one and ten sealed ones
    cut = inst.run("audit", "verify")
    assert cut.exit_code == 1 and "records 51..60: missing" in cut.output
    checked = inst.run("evidence", "check")
    assert checked.exit_code == 1 and "audit: TAMPERED" in checked.output
    renamed = [r.replace(b'"user3"', b'"user9"') for r in rows]
    audit.path.write_bytes(b"".join(renamed))
    edited = inst.run("audit", "verify")
    assert edited.exit_code == 1 and "record 4: edited" in edited.output


def test_key_rotation_is_followed_by_check_and_verify(tmp_path: Path) -> None:
    inst = Installation(tmp_path)
    inst.run("keys", "init")
    old_pub = tmp_path / "old.pem"
    assert inst.run("keys", "export-public", str(old_pub)).exit_code == 0
    audit = AuditLog.for_data_dir(inst.data, inst.evidence)
    audit.record("login", user="a")
    inst.run("evidence", "seal")
    rotated = inst.run("keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    audit.record("logout", user="a")
    inst.run("evidence", "seal")
    checked = inst.run("evidence", "check", "--key", str(old_pub))
    assert checked.exit_code == 0, checked.output
    chain = [json.loads(x) for x in (inst.data / "evidence" / "keys.jsonl").read_text()
             .splitlines()]
    assert [c["type"] for c in chain] == ["key", "rotation"]


def test_export_verified_with_the_chosen_key_and_standard_tools(
        tmp_path: Path, tsa: lab_tsa.LabTsa) -> None:
    inst = Installation(tmp_path, tsa.url, tsa.ca_file)
    other = Installation(tmp_path / "elsewhere")
    assert inst.run("keys", "init").exit_code == 0 and other.run("keys", "init").exit_code == 0
    from evidence.keys import load_signing_key

    log = probe_log(inst.data, load_signing_key(inst.key), n=40)
    assert inst.run("evidence", "seal").exit_code == 0  # timestamps the pending heads too
    out = tmp_path / "export"
    exported = inst.run("evidence", "export", "--infohash", IH, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["records"] == 20 and manifest["tool"]["version"]
    assert manifest["summary"]["observations"] == 20 and len(manifest["config_sha256"]) == 64
    pub, other_pub = tmp_path / "pub.pem", tmp_path / "other.pem"
    inst.run("keys", "export-public", str(pub))
    other.run("keys", "export-public", str(other_pub))
    good = inst.run("evidence", "verify", str(out), "--key", str(pub), "--tsa-ca",
                    str(tsa.ca_file))
    assert good.exit_code == 0, good.output
    assert "20 records" in good.output and "signed by the key you gave" in good.output
    assert "2 heads, 2 timestamps" in good.output
    bare = inst.run("evidence", "verify", str(out))
    assert bare.exit_code == 0 and "INTERNAL CONSISTENCY ONLY" in bare.output
    wrong = inst.run("evidence", "verify", str(out), "--key", str(other_pub))
    assert wrong.exit_code == 1 and "not trusted" in wrong.output
    heads = [json.loads(x) for x in (out / "heads.jsonl").read_text().splitlines()]
    for head in heads:
        assert head["token_file"], head
        done = subprocess.run(
            ["openssl", "ts", "-verify", "-data", str(out / head["signature_file"]), "-in",
             str(out / head["token_file"]), "-CAfile", str(tsa.ca_file)],
            capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stderr
        done = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin", "-in",
             str(out / head["message_file"]), "-sigfile", str(out / head["signature_file"])],
            capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    assert log.size == 40


def test_capture_export_by_url_attaches_the_warc_records(tmp_path: Path) -> None:
    import gzip

    from crawler.warc.capture import capture_log_path, warc_dir
    from evidence.registry import CAPTURE, open_log

    inst = Installation(tmp_path)
    inst.run("keys", "init")
    warcs = warc_dir(inst.data)
    warcs.mkdir(parents=True)
    members = [gzip.compress(f"WARC/1.1\r\nrecord {i}\r\n\r\n".encode()) for i in range(3)]
    (warcs / "crawl-1.warc.gz").write_bytes(b"".join(members))
    log = open_log(inst.data, CAPTURE, capture_log_path(inst.data))
    url = "http://exampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion/market"
    offsets = [0, len(members[0]), len(members[0]) + len(members[1])]
    for i, other in enumerate((url, url + "/other", url)):
        log.append({"type": "page_capture", "url": other, "host": other.split("/")[2],
                    "records": [{"warc": "crawl-1.warc.gz", "offset": offsets[i],
                                 "length": len(members[i]), "id": f"<urn:uuid:{i}>",
                                 "type": "response"}]})
    log.append({"type": "warc_file", "name": "crawl-1.warc.gz", "sha256": "0" * 64})
    out = tmp_path / "capture-export"
    result = inst.run("evidence", "export", "--url", url, "--out", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["records"] == 3 and manifest["selector"] == {"url": url}
    assert gzip.decompress((out / "attachments" / "capture.warc.gz").read_bytes()) == \
        b"WARC/1.1\r\nrecord 0\r\n\r\nWARC/1.1\r\nrecord 2\r\n\r\n"
    pub = tmp_path / "pub.pem"
    inst.run("keys", "export-public", str(pub))
    assert inst.run("evidence", "verify", str(out), "--key", str(pub)).exit_code == 0
    (out / "attachments" / "capture.warc.gz").write_bytes(gzip.compress(b"WARC/1.1\r\nx"))
    bad = inst.run("evidence", "verify", str(out), "--key", str(pub))
    assert bad.exit_code == 1 and "attachment changed" in bad.output
