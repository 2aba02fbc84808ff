"""Export the records of sealed logs that match a filter, with everything needed to check them.

An export directory (docs/evidence-format.md §Exports) holds the records with their
inclusion proofs against the newest head of their log, the heads that first sealed each
record and the newest one (signed text, raw signature, RFC 3161 token), consistency proofs
from each older head to the newest, the public key and key chain, a manifest (tool
version, config hash, selector, counts, SHA-256 of the records file) signed by the
installation's key, and ``SHA256SUMS`` of every file. Each log is sealed first, so every
exported record is covered by a signed head. Any sealed log and any record filter work:
a new selector is one filter function. Reads no settings (its caller passes the key, the
version and the config hash).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.check import check_log, trusted_keys
from evidence.errors import EvidenceError
from evidence.heads import TreeHead, read_heads
from evidence.keys import KeyChain, SigningKey, chain_path, public_pem
from evidence.merkle import MerkleTree, leaf_hash
from evidence.sealedlog import SealedLog, read_lines
from evidence.tsa import read_tokens, tokens_path

FORMAT = "heroes-evidence-export/2"
RECORDS = "records.jsonl"
HEADS = "heads.jsonl"
CONSISTENCY = "consistency.jsonl"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
PUBLIC_KEY = "public-key.pem"
KEY_CHAIN = "keys.jsonl"
TSA_CA = "tsa-ca.pem"
SUMS = "SHA256SUMS"
ATTACHMENTS = "attachments"

RecordFilter = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Source:
    """One log to export from and which of its records to take."""

    log: SealedLog
    wanted: RecordFilter


def slug(log_name: str) -> str:
    return log_name.replace("/", "_")


def head_base(head: TreeHead) -> str:
    return f"heads/{slug(head.log)}-{head.size}"


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export(sources: Sequence[Source], out: Path, *, key: SigningKey, data_dir: Path,
           tool_version: str, config_sha256: str, selector: dict[str, str],
           tsa_ca: Path | None = None,
           summary: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
           attachments: Mapping[str, Path] | None = None,
           ) -> dict[str, Any]:
    """Write the export into ``out`` (new or empty); returns the manifest.

    ``attachments`` (name -> file) are copied to ``attachments/<name>`` and listed with
    their SHA-256 in the signed manifest (e.g. the WARC records of exported captures)."""
    if out.exists() and any(out.iterdir()):
        raise EvidenceError(f"{str(out)!r} exists and is not empty; choose a new directory")
    plans = []
    for source in sources:
        report = check_log(source.log.name, source.log.path, _own_keys(data_dir, key))
        if not report.ok:
            raise EvidenceError(f"{source.log.path} does not match its heads; refusing to "
                                f"export from it: {report.problems[0]}")
        source.log.seal(key)
        plans.append(_plan(source))
    picked = sum(len(p["records"]) for p in plans)
    if not picked:
        raise EvidenceError(f"no record matches {selector} in "
                            f"{', '.join(s.log.name for s in sources)}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "heads").mkdir()
    with (out / RECORDS).open("w", encoding="utf-8") as fh:
        for plan in plans:
            for row in plan["records"]:
                fh.write(_dump(row) + "\n")
    head_rows, consistency_rows = [], []
    tokens_dir_made = False
    for plan in plans:
        tokens = read_tokens(tokens_path(plan["log"]))
        newest: TreeHead = plan["newest"]
        for head in plan["heads"]:
            base = head_base(head)
            (out / f"{base}.msg").write_bytes(head.message)
            (out / f"{base}.sig").write_bytes(head.signature)
            row: dict[str, Any] = {**head.to_json(), "message_file": f"{base}.msg",
                                   "signature_file": f"{base}.sig", "token_file": None}
            token = tokens.get(head.signature_sha256)
            if token is not None:
                if not tokens_dir_made:
                    (out / "tokens").mkdir()
                    tokens_dir_made = True
                name = f"tokens/{slug(head.log)}-{head.size}.tsr"
                (out / name).write_bytes(base64.b64decode(token["tsr"]))
                row["token_file"] = name
            head_rows.append(row)
            if head.size < newest.size:
                consistency_rows.append({
                    "log": head.log, "from_size": head.size, "to_size": newest.size,
                    "path": [h.hex() for h in plan["tree"].consistency_proof(head.size,
                                                                              newest.size)]})
    (out / HEADS).write_text("".join(_dump(r) + "\n" for r in head_rows), encoding="utf-8")
    (out / CONSISTENCY).write_text("".join(_dump(r) + "\n" for r in consistency_rows),
                                   encoding="utf-8")
    (out / PUBLIC_KEY).write_bytes(public_pem(key.public))
    chain = chain_path(data_dir)
    if chain.exists():
        shutil.copyfile(chain, out / KEY_CHAIN)
    if tsa_ca is not None:
        shutil.copyfile(tsa_ca, out / TSA_CA)
    attached = []
    for name, source_path in sorted((attachments or {}).items()):
        if "/" in name or name.startswith("."):
            raise EvidenceError(f"attachment name {name!r} must be a plain file name")
        (out / ATTACHMENTS).mkdir(exist_ok=True)
        shutil.copyfile(source_path, out / ATTACHMENTS / name)
        attached.append({"file": f"{ATTACHMENTS}/{name}",
                         "sha256": _sha256_file(out / ATTACHMENTS / name)})
    all_records = [json.loads(r["entry"]) for p in plans for r in p["records"]]
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": {"name": "heroes", "version": tool_version},
        "config_sha256": config_sha256,
        "selector": selector,
        "key_id": key.key_id,
        "public_key_file": PUBLIC_KEY,
        "key_chain_file": KEY_CHAIN if chain.exists() else None,
        "tsa_ca_file": TSA_CA if tsa_ca is not None else None,
        "records": picked,
        "records_sha256": _sha256_file(out / RECORDS),
        "logs": [{"name": p["log"].name, "tree_size": p["newest"].size,
                  "root": p["newest"].root.hex(), "records": len(p["records"])}
                 for p in plans if p["records"]],
        "attachments": attached,
        "summary": summary(all_records) if summary else {},
    }
    body = (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
    (out / MANIFEST).write_bytes(body)
    (out / MANIFEST_SIG).write_bytes(key.sign(body))
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    (out / SUMS).write_text("".join(f"{_sha256_file(out / name)}  {name}\n" for name in files),
                            encoding="utf-8")
    return manifest


def _own_keys(data_dir: Path, key: SigningKey) -> dict[str, Any]:
    return trusted_keys(KeyChain.load(chain_path(data_dir)), key.public)


def _plan(source: Source) -> dict[str, Any]:
    log = source.log
    heads, _ = read_heads(log.heads_path)
    heads = sorted({h.size: h for h in heads}.values(), key=lambda h: h.size)
    if not heads:
        return {"log": log, "records": [], "heads": [], "newest": None, "tree": None}
    newest = heads[-1]
    lines, _ = read_lines(log.path)
    lines = lines[:newest.size]
    tree = MerkleTree(leaf_hash(line) for line in lines)
    sizes = [h.size for h in heads]
    rows = []
    used: dict[int, TreeHead] = {newest.size: newest}
    for index, line in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or not source.wanted(record):
            continue
        first = heads[bisect.bisect_right(sizes, index)]
        used[first.size] = first
        rows.append({"log": log.name, "index": index, "entry": line.decode("utf-8"),
                     "tree_size": newest.size, "first_head_size": first.size,
                     "inclusion_path": [h.hex() for h in tree.inclusion_proof(index,
                                                                              newest.size)]})
    return {"log": log, "records": rows, "heads": sorted(used.values(), key=lambda h: h.size),
            "newest": newest, "tree": tree}
