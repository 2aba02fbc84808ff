"""RFC 3161 timestamps of heads from the lab TSA (openssl ts -reply on loopback)."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.sections.evidence import EvidenceSettings
from evidence.errors import TimestampError
from evidence.heads import read_heads
from evidence.keys import SigningKey
from evidence.sealedlog import SealedLog
from evidence.sealer import Sealer
from evidence.tsa import TsaClient, inspect_reply, read_tokens, timestamp_status, tokens_path
from heroes.lab import tsa as lab_tsa


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "lab"
    yield d
    lab_tsa.stop(d)


def test_token_from_the_lab_tsa_verifies_here_and_with_openssl(lab: Path, tmp_path: Path) -> None:
    tsa = lab_tsa.start(lab)
    client = TsaClient(tsa.url, 10, tsa.ca_file.read_bytes())
    data = b"a signature of 64 bytes" * 3
    reply, info = client.timestamp(data)
    assert info.gen_time and info.serial >= 1
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "token.tsr").write_bytes(reply)
    done = subprocess.run(["openssl", "ts", "-verify", "-data", str(tmp_path / "data.bin"),
                           "-in", str(tmp_path / "token.tsr"), "-CAfile", str(tsa.ca_file)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stderr
    import hashlib
    with pytest.raises(TimestampError, match="imprint"):
        inspect_reply(reply, hashlib.sha256(b"other").digest())
    other_ca = lab_tsa.make_authority(tmp_path / "other-ca")
    with pytest.raises(TimestampError, match="does not verify"):
        inspect_reply(reply, hashlib.sha256(data).digest(), ca_pem=other_ca.read_bytes())


def test_tsa_down_heads_queue_then_get_tokens_when_it_returns(lab: Path, tmp_path: Path,
                                                              key: SigningKey) -> None:
    port = lab_tsa.free_port()
    cfg = EvidenceSettings(signing_key_file=key.path, tsa_url=f"http://127.0.0.1:{port}/",
                           tsa_timeout_s=2)
    log = SealedLog(tmp_path / "a.jsonl", "test")
    sealer = Sealer.from_settings(cfg, [log])
    log.append({"n": 1})
    assert len(sealer.seal_once()) == 1  # signed although the TSA is down
    log.append({"n": 2})
    assert len(sealer.seal_once()) == 1
    assert sealer.failures == 2
    assert timestamp_status(log) == {"timestamped": 0, "timestamps_pending": 2}
    tsa = lab_tsa.start(lab, port=port)
    log.append({"n": 3})
    sealer.seal_once()
    assert timestamp_status(log) == {"timestamped": 3, "timestamps_pending": 0}
    heads, _ = read_heads(log.heads_path)
    tokens = read_tokens(tokens_path(log))
    for head in heads:
        reply = base64.b64decode(tokens[head.signature_sha256]["tsr"])
        inspect_reply(reply, __import__("hashlib").sha256(head.signature).digest(),
                      ca_pem=tsa.ca_file.read_bytes())
    assert [json.loads(x)["size"] for x in tokens_path(log).read_text().splitlines()] == [1, 2, 3]


def test_lab_tsa_refuses_other_content_types(lab: Path) -> None:
    import urllib.error
    import urllib.request

    tsa = lab_tsa.start(lab)
    request = urllib.request.Request(tsa.url, data=b"x", method="POST",
                                     headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 415


def test_heads_file_removed_is_caught_by_the_tokens(lab: Path, tmp_path: Path,
                                                    key: SigningKey) -> None:
    from evidence.check import check_log

    tsa = lab_tsa.start(lab)
    cfg = EvidenceSettings(signing_key_file=key.path, tsa_url=tsa.url)
    log = SealedLog(tmp_path / "a.jsonl", "test")
    sealer = Sealer.from_settings(cfg, [log])
    for n in range(3):
        log.append({"n": n})
        sealer.seal_once()
    log.heads_path.unlink()  # everything would look merely "unsealed"
    report = check_log("test", log.path, {key.key_id: key.public})
    assert not report.ok
    assert "3 head(s) that were timestamped or witnessed are gone" in report.problems[0]
