"""A verifier written only from docs/evidence-format.md (no project imports in it), run
against a good export and against each tampered one."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# ---- the independent verifier: §1-§5 of docs/evidence-format.md --------------------------


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def lh(d: bytes) -> bytes:
    return sha(b"\x00" + d)


def nh(left: bytes, right: bytes) -> bytes:
    return sha(b"\x01" + left + right)


def incl_ok(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    # RFC 9162 2.1.3.2
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = nh(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = nh(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def cons_ok(m: int, n: int, r1: bytes, r2: bytes, path: list[bytes]) -> bool:
    # RFC 9162 2.1.4.2
    if m == n:
        return not path and r1 == r2
    if m == 0 or m > n or not path:
        return False
    if m & (m - 1) == 0:
        path = [r1, *path]
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = nh(c, fr), nh(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = nh(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == r1 and sr == r2


def raw(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid(pub: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw(pub)).hexdigest()


def sig_ok(pub: Ed25519PublicKey | None, sig: bytes, msg: bytes) -> bool:
    if pub is None:
        return False
    try:
        pub.verify(sig, msg)
    except InvalidSignature:
        return False
    return True


def load_pub(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    assert isinstance(key, Ed25519PublicKey)
    return key


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def independent_verify(d: Path, anchor: Ed25519PublicKey | None) -> list[str]:
    errors: list[str] = []
    # 1. files
    listed = {}
    for line in (d / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
        if not (d / name).is_file() or hashlib.sha256((d / name).read_bytes()).hexdigest() \
                != digest:
            errors.append(f"file {name}")
    for p in d.rglob("*"):
        if p.is_file() and p.name != "SHA256SUMS" and p.relative_to(d).as_posix() not in listed:
            errors.append(f"extra {p.name}")
    # 2. manifest
    body = (d / "manifest.json").read_bytes()
    m = json.loads(body)
    if m.get("format") != "heroes-evidence-export/2":
        return [*errors, "format"]
    # 3. keys
    own = load_pub((d / m["public_key_file"]).read_bytes())
    if kid(own) != m["key_id"]:
        errors.append("key id")
    keys: dict[str, Ed25519PublicKey] = {}
    links: list[tuple[str, str]] = []
    if m.get("key_chain_file"):
        for e in lines(d / m["key_chain_file"]):
            if e["type"] == "key":
                keys[e["key_id"]] = load_pub(e["public_key"])
            elif e["type"] == "rotation":
                new = load_pub(e["new_public_key"])
                text = (f"heroes-key-rotation/1\n{e['old_key_id']}\n{kid(new)}\n"
                        f"{raw(new).hex()}\n{e['at_ms']}\n")
                if (e["new_key_id"] == kid(new) and text == e["statement"]
                        and sig_ok(keys.get(e["old_key_id"]),
                                   base64.b64decode(e["old_signature"]), text.encode())
                        and sig_ok(new, base64.b64decode(e["new_signature"]), text.encode())):
                    keys[kid(new)] = new
                    links.append((e["old_key_id"], kid(new)))
    a = anchor or own
    trusted = {kid(a)}
    changed = True
    while changed:
        changed = False
        for old, new in links:
            if (old in trusted) != (new in trusted):
                trusted |= {old, new}
                changed = True
    tkeys = {i: keys[i] for i in trusted if i in keys}
    tkeys[kid(a)] = a
    # 4. manifest signature
    if not sig_ok(tkeys.get(m["key_id"]), (d / "manifest.sig").read_bytes(), body):
        errors.append("manifest signature")
    # 5. heads
    heads: dict[tuple[str, int], dict] = {}
    for n, h in enumerate(lines(d / "heads.jsonl"), start=1):
        text = (f"heroes-tree-head/1\n{h['log']}\n{h['size']}\n{h['root']}\n"
                f"{h['timestamp_ms']}\n{h['key_id']}\n").encode()
        sig = base64.b64decode(h["signature"])
        if (d / h["message_file"]).read_bytes() != text or \
                (d / h["signature_file"]).read_bytes() != sig:
            errors.append(f"head {n} files")
        if not sig_ok(tkeys.get(h["key_id"]), sig, text):
            errors.append(f"head {n} signature")
        if (h["log"], h["size"]) in heads:
            errors.append(f"head {n} twice")
        heads[(h["log"], h["size"])] = h
    known = {"manifest.json", "manifest.sig", "records.jsonl", "heads.jsonl",
             "consistency.jsonl", "SHA256SUMS"}
    known |= {m[k] for k in ("public_key_file", "key_chain_file", "tsa_ca_file") if m.get(k)}
    known |= {h[k] for h in heads.values() for k in ("message_file", "signature_file",
                                                      "token_file") if h.get(k)}
    for a in m.get("attachments", []):
        known.add(a["file"])
        if not (d / a["file"]).is_file() or \
                hashlib.sha256((d / a["file"]).read_bytes()).hexdigest() != a["sha256"]:
            errors.append(f"attachment {a['file']}")
    for p in d.rglob("*"):
        if p.is_file() and p.relative_to(d).as_posix() not in known:
            errors.append(f"extra {p.name}")
    # 6. consistency
    newest: dict[str, int] = {}
    for (log, size) in heads:
        newest[log] = max(size, newest.get(log, 0))
    proven = set()
    for c in lines(d / "consistency.jsonl"):
        a1, a2 = heads.get((c["log"], c["from_size"])), heads.get((c["log"], c["to_size"]))
        if a1 and a2 and cons_ok(c["from_size"], c["to_size"], bytes.fromhex(a1["root"]),
                                 bytes.fromhex(a2["root"]), [bytes.fromhex(x) for x in c["path"]]):
            if c["to_size"] == newest[c["log"]]:
                proven.add((c["log"], c["from_size"]))
        else:
            errors.append(f"consistency {c['log']} {c['from_size']}")
    for (log, size) in heads:
        if size != newest[log] and (log, size) not in proven:
            errors.append(f"unproven head {log} {size}")
    # 7. records
    if hashlib.sha256((d / "records.jsonl").read_bytes()).hexdigest() != m["records_sha256"]:
        errors.append("records digest")
    rows = lines(d / "records.jsonl")
    last: dict[str, int] = {}
    per_log: dict[str, int] = {}
    for n, r in enumerate(rows, start=1):
        h = heads.get((r["log"], r["tree_size"]))
        if h is None or r["tree_size"] != newest[r["log"]]:
            errors.append(f"record {n} head")
            continue
        if not incl_ok(r["index"], r["tree_size"], lh(r["entry"].encode("utf-8")),
                       [bytes.fromhex(x) for x in r["inclusion_path"]], bytes.fromhex(h["root"])):
            errors.append(f"record {n} inclusion")
        if (r["log"], r["first_head_size"]) not in heads or r["first_head_size"] <= r["index"]:
            errors.append(f"record {n} first head")
        if r["index"] <= last.get(r["log"], -1):
            errors.append(f"record {n} order")
        last[r["log"]] = r["index"]
        per_log[r["log"]] = per_log.get(r["log"], 0) + 1
    if len(rows) != m["records"]:
        errors.append("record count")
    for e in m["logs"]:
        if per_log.get(e["name"], 0) != e["records"] or newest.get(e["name"]) != e["tree_size"] \
                or heads[(e["name"], e["tree_size"])]["root"] != e["root"]:
            errors.append(f"log {e['name']}")
    # 8. timestamps (imprint; the CMS chain is left to openssl in another test)
    for h in heads.values():
        if h.get("token_file"):
            resp = tsp.TimeStampResp.load((d / h["token_file"]).read_bytes())
            info = resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
            if resp["status"]["status"].native not in ("granted", "granted_with_mods") or \
                    info["message_imprint"]["hashed_message"].native != \
                    sha(base64.b64decode(h["signature"])):
                errors.append(f"token {h['token_file']}")
    return errors


# ---- the tests -------------------------------------------------------------------------

from evidence.keys import SigningKey  # noqa: E402  (test side only)
from heroes.lab import tsa as lab_tsa  # noqa: E402


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ed25519PublicKey]:
    from config.sections.evidence import EvidenceSettings
    from evidence.keys import init_key, rotate_key
    from evidence.sealer import Sealer
    from tests.evidence.helpers import probe_log

    root = tmp_path_factory.mktemp("independent")
    lab = root / "lab"
    tsa = lab_tsa.start(lab)
    try:
        data = root / "data"
        key_path = root / "k" / "signing.pem"
        first = init_key(key_path, data)
        log = probe_log(data, first, n=40)
        _, new, _ = rotate_key(key_path, data)
        from evidence.export import Source, export
        from tests.evidence.helpers import IH, wanted

        log.append({"infohash": IH, "late": True})
        cfg = EvidenceSettings(signing_key_file=key_path, tsa_url=tsa.url)
        Sealer.from_settings(cfg, [log]).seal_once()  # tokens for every head
        out = root / "good"
        (root / "capture.warc.gz").write_bytes(b"WARC/1.1 records of the exported pages")
        export([Source(log, wanted)], out, key=new, data_dir=data, tool_version="1",
               config_sha256="c" * 64, selector={"infohash": IH}, tsa_ca=tsa.ca_file,
               attachments={"capture.warc.gz": root / "capture.warc.gz"})
    finally:
        lab_tsa.stop(lab)
    return out, first.public


def copy(good: tuple[Path, Ed25519PublicKey], tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(good[0], out)
    return out


def resum(d: Path) -> None:
    files = sorted(p.relative_to(d).as_posix() for p in d.rglob("*")
                   if p.is_file() and p.name != "SHA256SUMS")
    (d / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((d / f).read_bytes()).hexdigest()}  {f}\n" for f in files))


def test_accepts_the_good_export_from_the_original_key_across_a_rotation(good) -> None:  # type: ignore[no-untyped-def]
    assert independent_verify(good[0], good[1]) == []
    heads = lines(good[0] / "heads.jsonl")
    assert all(h["token_file"] for h in heads) and len({h["key_id"] for h in heads}) == 2


def test_rejects_another_key(good, other_key: SigningKey) -> None:  # type: ignore[no-untyped-def]
    assert "manifest signature" in independent_verify(good[0], other_key.public)


def _edit_record(d: Path) -> None:
    rows = (d / "records.jsonl").read_text().splitlines(keepends=True)
    r = json.loads(rows[3])
    r["entry"] = r["entry"].replace('"level":', '"level":0,"was":')
    rows[3] = json.dumps(r) + "\n"
    (d / "records.jsonl").write_text("".join(rows))


def _cut_last(d: Path) -> None:
    rows = (d / "records.jsonl").read_text().splitlines(keepends=True)
    (d / "records.jsonl").write_text("".join(rows[:-1]))
    m = json.loads((d / "manifest.json").read_text())
    m["records"] -= 1
    m["logs"][0]["records"] -= 1
    m["records_sha256"] = hashlib.sha256((d / "records.jsonl").read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(m))


def _reorder(d: Path) -> None:
    rows = (d / "records.jsonl").read_text().splitlines(keepends=True)
    rows[0], rows[1] = rows[1], rows[0]
    (d / "records.jsonl").write_text("".join(rows))


def _insert(d: Path) -> None:
    rows = (d / "records.jsonl").read_text().splitlines(keepends=True)
    rows.insert(2, rows[5])
    (d / "records.jsonl").write_text("".join(rows))


def _head_root(d: Path) -> None:
    rows = lines(d / "heads.jsonl")
    rows[0]["timestamp_ms"] += 1000
    (d / "heads.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _extra(d: Path) -> None:
    (d / "readme.txt").write_text("added\n")


def _token(d: Path) -> None:
    h = lines(d / "heads.jsonl")[0]
    h2 = lines(d / "heads.jsonl")[-1]
    shutil.copyfile(d / h2["token_file"], d / h["token_file"])


def _attachment(d: Path) -> None:
    (d / "attachments" / "capture.warc.gz").write_bytes(b"other records")


@pytest.mark.parametrize("tamper,expected", [
    (_attachment, "attachment attachments/capture.warc.gz"),
    (_edit_record, "record 4 inclusion"), (_cut_last, "manifest signature"),
    (_reorder, "record 2 order"), (_insert, "record 4 order"), (_head_root, "head 1 signature"),
    (_extra, "extra readme.txt"), (_token, "token"),
])
def test_rejects_each_tampered_export(good, tmp_path: Path, tamper, expected: str) -> None:  # type: ignore[no-untyped-def]
    d = copy(good, tmp_path)
    tamper(d)
    resum(d)
    errors = independent_verify(d, good[1])
    assert any(e.startswith(expected) for e in errors), errors
