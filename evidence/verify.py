"""Verify an export directory (docs/evidence-format.md §Verifying an export).

Checks, each failure named with its file, line and record: every file listed in
``SHA256SUMS`` and no other; the manifest's format and its signature; the public key's
fingerprint; every head's signed text, signature and key; consistency from every older head
to the newest of its log; every record's inclusion proof against the newest head; the
records file's digest and counts against the signed manifest; every timestamp token
(granted, imprint = SHA-256 of the head's signature, and with a TSA CA its signature
chain). With ``trusted_key`` the heads and the manifest must be signed by that key or one
linked to it by a verified hand-over in the export's key chain; without it only the
export's internal consistency is checked, and the report says so. Reads no settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence.errors import EvidenceError, TimestampError
from evidence.export import (
    CONSISTENCY,
    FORMAT,
    HEADS,
    MANIFEST,
    MANIFEST_SIG,
    RECORDS,
    SUMS,
)
from evidence.heads import TreeHead
from evidence.keys import KeyChain, key_id, load_public_key, verify_signature
from evidence.merkle import leaf_hash, verify_consistency, verify_inclusion
from evidence.tsa import inspect_reply


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: int = 0
    heads: int = 0
    tokens: int = 0
    key_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _jsonl(path: Path, report: VerifyReport) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        report.problems.append(f"{path.name}: unreadable ({exc})")
        return rows
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            obj = json.loads(line)
        except ValueError:
            report.problems.append(f"{path.name}:{number}: not JSON: {line[:80]!r}")
            continue
        if not isinstance(obj, dict):
            report.problems.append(f"{path.name}:{number}: not a JSON object")
            continue
        rows.append((number, obj))
    return rows


def verify_export(bundle: Path, trusted_key: Ed25519PublicKey | None = None,
                  tsa_ca: Path | None = None) -> VerifyReport:
    report = VerifyReport()
    _check_sums(bundle, report)
    manifest_path = bundle / MANIFEST
    try:
        body = manifest_path.read_bytes()
        manifest = json.loads(body)
    except (OSError, ValueError) as exc:
        report.problems.append(f"{MANIFEST}: unreadable ({exc})")
        return report
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.problems.append(f"{MANIFEST}: field 'format' is not {FORMAT!r}")
        return report
    keys = _keys(bundle, manifest, trusted_key, report)
    signer = keys.get(str(manifest.get("key_id")))
    try:
        signature = (bundle / MANIFEST_SIG).read_bytes()
    except OSError:
        report.problems.append(f"{MANIFEST_SIG}: missing")
    else:
        if signer is None or not verify_signature(signer, signature, body):
            report.problems.append(f"{MANIFEST}: its signature ({MANIFEST_SIG}) does not "
                                   "verify with a trusted key (the manifest was changed)")
    heads = _heads(bundle, keys, report)
    _unknown_files(bundle, manifest, heads, report)
    newest = _consistency(bundle, heads, report)
    _records(bundle, manifest, heads, newest, report)
    _tokens(bundle, manifest, heads, tsa_ca, report)
    if trusted_key is None:
        report.notes.append("only internal consistency was checked: no --key was given, so "
                            "the export's own public key was trusted")
    return report


def _check_sums(bundle: Path, report: VerifyReport) -> None:
    sums = bundle / SUMS
    try:
        text = sums.read_text(encoding="utf-8")
    except OSError as exc:
        report.problems.append(f"{SUMS}: unreadable ({exc})")
        return
    listed = set()
    for number, line in enumerate(text.splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not name or len(digest) != 64:
            report.problems.append(f"{SUMS}:{number}: malformed line {line[:100]!r}")
            continue
        listed.add(name)
        path = bundle / name
        if not path.is_file():
            report.problems.append(f"{SUMS}:{number}: {name!r} is missing")
        elif _sha256(path) != digest:
            report.problems.append(f"{SUMS}:{number}: {name!r} does not match its SHA-256")
    present = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    for name in sorted(present - listed - {SUMS}):
        report.problems.append(f"{name!r}: extra file, not listed in {SUMS}")


def _unknown_files(bundle: Path, manifest: dict[str, Any],
                   heads: dict[tuple[str, int], tuple[TreeHead, dict[str, Any]]],
                   report: VerifyReport) -> None:
    known = {MANIFEST, MANIFEST_SIG, RECORDS, HEADS, CONSISTENCY, SUMS}
    known |= {str(manifest.get(k)) for k in ("public_key_file", "key_chain_file",
                                             "tsa_ca_file") if manifest.get(k)}
    for _, row in heads.values():
        known |= {str(row.get(k)) for k in ("message_file", "signature_file", "token_file")
                  if row.get(k)}
    for number, item in enumerate(manifest.get("attachments") or [], start=1):
        name = str(item.get("file")) if isinstance(item, dict) else ""
        known.add(name)
        path = bundle / name
        if not name or not path.is_file():
            report.problems.append(f"{MANIFEST}: attachment {number} {name!r} is missing")
        elif _sha256(path) != item.get("sha256"):
            report.problems.append(f"{name!r}: does not match the SHA-256 the signed "
                                   "manifest lists (attachment changed)")
    for path in sorted(bundle.rglob("*")):
        name = path.relative_to(bundle).as_posix()
        if path.is_file() and name not in known:
            report.problems.append(f"{name!r}: extra file, not part of the export")


def _keys(bundle: Path, manifest: dict[str, Any], trusted_key: Ed25519PublicKey | None,
          report: VerifyReport) -> dict[str, Ed25519PublicKey]:
    try:
        own = load_public_key((bundle / str(manifest.get("public_key_file"))).read_bytes(),
                              where=str(manifest.get("public_key_file")))
    except (OSError, EvidenceError) as exc:
        report.problems.append(f"public key: {exc}")
        return {}
    if key_id(own) != manifest.get("key_id"):
        report.problems.append(f"{manifest.get('public_key_file')}: fingerprint {key_id(own)} "
                               f"is not the manifest's key_id {manifest.get('key_id')!r}")
    chain = KeyChain({}, [], [])
    if manifest.get("key_chain_file"):
        chain = KeyChain.load(bundle / str(manifest["key_chain_file"]))
        report.problems.extend(chain.problems)
    anchor = trusted_key or own
    report.key_checked = trusted_key is not None
    ids = chain.trusted_from(key_id(anchor))
    keys = {i: chain.keys[i] for i in ids if i in chain.keys}
    keys[key_id(anchor)] = anchor
    if trusted_key is not None and key_id(own) not in keys:
        report.problems.append(f"the export was made with key {key_id(own)}, which is not the "
                               f"trusted key {key_id(trusted_key)} nor linked to it by a "
                               "signed hand-over")
    return keys


def _heads(bundle: Path, keys: dict[str, Ed25519PublicKey],
           report: VerifyReport) -> dict[tuple[str, int], tuple[TreeHead, dict[str, Any]]]:
    heads: dict[tuple[str, int], tuple[TreeHead, dict[str, Any]]] = {}
    for number, row in _jsonl(bundle / HEADS, report):
        where = f"{HEADS}:{number}"
        try:
            head = TreeHead.from_json(row)
        except ValueError as exc:
            report.problems.append(f"{where}: {exc}")
            continue
        for name, expected in (("message_file", head.message),
                               ("signature_file", head.signature)):
            try:
                if (bundle / str(row.get(name))).read_bytes() != expected:
                    report.problems.append(f"{where}: {row.get(name)} is not the head's "
                                           f"{name.split('_')[0]}")
            except OSError:
                report.problems.append(f"{where}: {name} {row.get(name)!r} is missing")
        key = keys.get(head.key_id)
        if key is None:
            report.problems.append(f"{where}: signed by key {head.key_id}, which is not trusted")
        elif not head.verify(key):
            report.problems.append(f"{where}: the signature does not verify (head changed)")
        if (head.log, head.size) in heads:
            report.problems.append(f"{where}: a second head of {head.log} at size {head.size}")
        heads[(head.log, head.size)] = (head, row)
    report.heads = len(heads)
    return heads


def _consistency(bundle: Path, heads: dict[tuple[str, int], tuple[TreeHead, dict[str, Any]]],
                 report: VerifyReport) -> dict[str, TreeHead]:
    newest: dict[str, TreeHead] = {}
    for head, _ in heads.values():
        if head.log not in newest or head.size > newest[head.log].size:
            newest[head.log] = head
    proven: set[tuple[str, int]] = set()
    for number, row in _jsonl(bundle / CONSISTENCY, report):
        where = f"{CONSISTENCY}:{number}"
        log, first, second = row.get("log"), row.get("from_size"), row.get("to_size")
        older, newer = heads.get((log, first)), heads.get((log, second))  # type: ignore[arg-type]
        if older is None or newer is None:
            report.problems.append(f"{where}: no head of {log!r} at size {first!r} or {second!r}")
            continue
        try:
            path = [bytes.fromhex(h) for h in row.get("path", [])]
        except (TypeError, ValueError):
            report.problems.append(f"{where}: path is not hex")
            continue
        if not verify_consistency(first, second, older[0].root, newer[0].root, path):
            report.problems.append(f"{where}: the head of size {first} is not a prefix of the "
                                   f"head of size {second} of {log} (log rewritten between them)")
            continue
        if newer[0].size == newest[str(log)].size:
            proven.add((str(log), int(first)))  # type: ignore[arg-type]
    for (log, size), (head, _) in sorted(heads.items()):
        if head.size < newest[log].size and (log, size) not in proven:
            report.problems.append(f"{HEADS}: the head of {log} at size {size} has no "
                                   "consistency proof to the newest head")
    return newest


def _records(bundle: Path, manifest: dict[str, Any],
             heads: dict[tuple[str, int], tuple[TreeHead, dict[str, Any]]],
             newest: dict[str, TreeHead], report: VerifyReport) -> None:
    path = bundle / RECORDS
    if path.is_file() and _sha256(path) != manifest.get("records_sha256"):
        report.problems.append(f"{RECORDS}: its SHA-256 is not the signed manifest's "
                               "records_sha256 (records removed, added or changed)")
    counts: dict[str, int] = {}
    last: dict[str, int] = {}
    for number, row in _jsonl(path, report):
        where = f"{RECORDS}:{number} (record {number})"
        log, index, size = row.get("log"), row.get("index"), row.get("tree_size")
        head = heads.get((log, size))  # type: ignore[arg-type]
        if head is None or not isinstance(index, int) or not isinstance(row.get("entry"), str):
            report.problems.append(f"{where}: no head of {log!r} at tree_size {size!r}, "
                                   "or a bad index or entry")
            continue
        if newest[str(log)].size != size:
            report.problems.append(f"{where}: proved against size {size}, not the newest head")
        entry = row["entry"].encode("utf-8")
        try:
            proof = [bytes.fromhex(h) for h in row.get("inclusion_path", [])]
        except (TypeError, ValueError):
            report.problems.append(f"{where}: inclusion_path is not hex")
            continue
        if not verify_inclusion(index, size, leaf_hash(entry), proof, head[0].root):
            report.problems.append(f"{where}: not in the log at index {index} (edited or "
                                   "moved): its inclusion proof fails")
        first = row.get("first_head_size")
        if (log, first) not in heads or not isinstance(first, int) or first <= index:
            report.problems.append(f"{where}: first_head_size {first!r} is not an included "
                                   "head covering it")
        if index <= last.get(str(log), -1):
            report.problems.append(f"{where}: out of order or repeated (index {index} of {log} "
                                   f"after index {last[str(log)]})")
        last[str(log)] = max(index, last.get(str(log), -1))
        counts[str(log)] = counts.get(str(log), 0) + 1
        report.records += 1
    if report.records != manifest.get("records"):
        report.problems.append(f"{RECORDS}: {report.records} records, the manifest lists "
                               f"{manifest.get('records')!r}")
    for entry in manifest.get("logs", []):
        name = entry.get("name")
        if counts.get(name, 0) != entry.get("records"):
            report.problems.append(f"{RECORDS}: {counts.get(name, 0)} records of {name!r}, the "
                                   f"manifest lists {entry.get('records')!r}")
        if name in newest and (newest[name].size != entry.get("tree_size")
                               or newest[name].root.hex() != entry.get("root")):
            report.problems.append(f"{MANIFEST}: log {name!r} size/root is not its newest head")


def _tokens(bundle: Path, manifest: dict[str, Any],
            heads: dict[tuple[str, int], tuple[TreeHead, dict[str, Any]]],
            tsa_ca: Path | None, report: VerifyReport) -> None:
    ca_path = tsa_ca
    if ca_path is None and manifest.get("tsa_ca_file"):
        ca_path = bundle / str(manifest["tsa_ca_file"])
    ca = ca_path.read_bytes() if ca_path is not None and ca_path.is_file() else None
    missing = 0
    for (log, size), (head, row) in sorted(heads.items()):
        name = row.get("token_file")
        if not name:
            missing += 1
            continue
        try:
            reply = (bundle / str(name)).read_bytes()
        except OSError:
            report.problems.append(f"{HEADS}: token {name!r} of {log} size {size} is missing")
            continue
        try:
            info = inspect_reply(reply, hashlib.sha256(head.signature).digest(), ca_pem=ca)
        except TimestampError as exc:
            report.problems.append(f"{name}: {exc}")
            continue
        report.tokens += 1
        report.notes.append(f"{log} size {size}: timestamped at {info.gen_time}")
    if missing:
        report.notes.append(f"{missing} head(s) without an RFC 3161 token")
    if report.tokens:
        if tsa_ca is None and ca is not None:
            report.notes.append("tokens checked against the TSA CA shipped in the export; "
                                "choose your own with --tsa-ca")
        elif ca is None:
            report.notes.append("token signatures not checked against a TSA CA (--tsa-ca)")


def load_trusted_key(path: Path) -> Ed25519PublicKey:
    try:
        return load_public_key(path.read_bytes(), where=str(path))
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read the key ({exc})") from exc


