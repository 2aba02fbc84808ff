"""Check a sealed log against its signed heads and name the first record that differs.

Every head must verify with a trusted key and be for this log; heads must never shrink;
the Merkle root of the log's first ``size`` records must equal each head's root. A log
shorter than a head lost sealed records (truncation). When a root differs, the leaves file
(``L.leaves``) is used to name the exact record if it still matches that head, else the
range between the last matching head and the first failing one is named (a full rewrite
that recomputed the leaves too). Records after the newest head are counted as unsealed:
reported, not verified. Reads no settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence.heads import TreeHead, read_heads
from evidence.keys import KeyChain, chain_path, key_id
from evidence.merkle import MerkleTree, leaf_hash
from evidence.registry import listed
from evidence.sealedlog import read_lines, sidecar


@dataclass
class LogReport:
    name: str
    path: Path
    records: int = 0
    sealed: int = 0  # records covered by the newest verified head
    heads: int = 0
    problems: list[str] = field(default_factory=list)  # tampering: exit 1
    notes: list[str] = field(default_factory=list)  # unsealed tail, torn line: not failures

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unsealed(self) -> int:
        return max(0, self.records - self.sealed)


def when(head: TreeHead) -> str:
    return datetime.fromtimestamp(head.timestamp_ms / 1000, UTC).isoformat(timespec="seconds")


def describe(head: TreeHead) -> str:
    return f"the head of {when(head)} (size {head.size})"


def classify(computed: list[bytes], sealed: list[bytes], i: int) -> str:
    """What happened at the first differing position ``i`` (0-based), in words."""
    n = i + 1
    c, s = computed, sealed
    if i + 1 < len(c) and i + 1 < len(s) and c[i] == s[i + 1] and c[i + 1] == s[i]:
        return f"record {n}: records {n} and {n + 1} were swapped (reordered)"
    if i + 1 < len(s) and c[i] == s[i + 1]:
        return f"record {n}: the sealed record {n} was deleted (record {n + 1} is in its place)"
    if i + 1 < len(c) and c[i + 1] == s[i]:
        return f"record {n}: inserted (it was not in the sealed log)"
    try:
        j = s.index(c[i])
    except ValueError:
        return f"record {n}: edited (its content is not what was sealed)"
    return f"record {n}: moved (it was sealed as record {j + 1})"


def check_log(name: str, path: Path,
              trusted: dict[str, Ed25519PublicKey] | None) -> LogReport:
    """Check one log against its heads, trusting only heads signed by ``trusted`` keys
    (``None``: signatures are not checked, only the roots; for internal checks)."""
    report = LogReport(name, path)
    heads_path = sidecar(path, "heads")
    if not path.exists():
        report.problems.append(f"{path}: the log is missing")
        lines: list[bytes] = []
        torn = b""
    else:
        lines, torn = read_lines(path)
    report.records = len(lines)
    if torn:
        report.notes.append(f"{path}: record {len(lines) + 1}: torn last line ({len(torn)} "
                            "bytes, not a record); moved aside on the next start")
    heads, problems = read_heads(heads_path)
    report.problems.extend(problems)
    report.problems.extend(_lost_heads(path, heads))
    good: list[TreeHead] = []
    biggest = 0
    for number, head in enumerate(heads, start=1):
        where = f"{heads_path}:{number}"
        key = None if trusted is None else trusted.get(head.key_id)
        if trusted is not None and key is None:
            report.problems.append(f"{where}: signed by key {head.key_id[:16]}…, which is not "
                                   "trusted (forged or re-signed heads)")
            continue
        if key is not None and not head.verify(key):
            report.problems.append(f"{where}: the signature does not verify (head edited)")
            continue
        if head.log != name:
            report.problems.append(f"{where}: a head of log {head.log!r}, not {name!r}")
            continue
        if head.size < biggest:
            report.problems.append(f"{where}: seals {head.size} records after a head sealed "
                                   f"{biggest} (heads reordered or the log restarted)")
        biggest = max(biggest, head.size)
        good.append(head)
    report.heads = len(good)
    if not good:
        if lines:
            report.notes.append(f"{path}: records 1..{len(lines)}: unsealed (no signed head), "
                                "not verified")
        return report
    newest = max(good, key=lambda h: h.size)
    computed = [leaf_hash(line) for line in lines]
    if len(lines) < newest.size:
        sealed = _sealed_leaves(path, newest)
        first = next((i for i, leaf in enumerate(computed) if sealed and leaf != sealed[i]),
                     None)
        if sealed and first is not None:  # a record deleted in the middle, not at the end
            report.problems.append(f"{path}: {classify(computed, sealed, first)} — checked "
                                   f"against {describe(newest)}")
        else:
            report.problems.append(
                f"{path}: records {len(lines) + 1}..{newest.size}: missing ({describe(newest)} "
                f"sealed {newest.size} records, the log has {len(lines)}; truncated)")
    tree = MerkleTree(computed)
    checkable = sorted((h for h in good if h.size <= len(lines)), key=lambda h: h.size)
    matched = 0
    for head in checkable:
        if tree.root(head.size) == head.root:
            matched = max(matched, head.size)
            continue
        report.problems.append(_locate(path, computed, head, matched))
        break
    report.sealed = min(newest.size, len(lines)) if report.ok else matched
    if len(lines) > newest.size:
        report.notes.append(f"{path}: records {newest.size + 1}..{len(lines)}: unsealed "
                            f"(after {describe(newest)}), not verified")
    return report


def _lost_heads(path: Path, heads: list[TreeHead]) -> list[str]:
    """Heads a TSA or a witness received that the heads file no longer holds."""
    have = {h.signature_sha256 for h in heads}
    lost: dict[str, int] = {}
    for kind in ("tokens", "witnessed"):
        lines, _ = read_lines(sidecar(path, kind))
        for line in lines:
            try:
                entry = json.loads(line)
                sig, size = str(entry["signature_sha256"]), int(entry["size"])
            except (ValueError, KeyError, TypeError):
                continue
            if sig not in have:
                lost[sig] = size
    if not lost:
        return []
    sizes = ", ".join(str(s) for s in sorted(set(lost.values())))
    return [f"{sidecar(path, 'heads')}: {len(lost)} head(s) that were timestamped or "
            f"witnessed are gone from the heads file (sizes {sizes}; heads removed or "
            "rewritten); the TSA's tokens and the witnesses' copies still hold them"]


def _sealed_leaves(path: Path, head: TreeHead) -> list[bytes] | None:
    """The leaves file's first ``head.size`` hashes, if they produce the head's root."""
    leaves_path = sidecar(path, "leaves")
    stored = leaves_path.read_bytes() if leaves_path.exists() else b""
    sealed = [stored[i:i + 32] for i in range(0, len(stored) - len(stored) % 32, 32)]
    if len(sealed) >= head.size and MerkleTree(sealed[:head.size]).root() == head.root:
        return sealed[:head.size]
    return None


def _locate(path: Path, computed: list[bytes], head: TreeHead, matched: int) -> str:
    sealed = _sealed_leaves(path, head)
    if sealed is not None:
        for i in range(matched, head.size):
            if computed[i] != sealed[i]:
                return f"{path}: {classify(computed, sealed, i)} — checked against " \
                       f"{describe(head)}"
    return (f"{path}: records {matched + 1}..{head.size}: at least one was edited, deleted, "
            f"inserted or moved (the log was rewritten): its root differs from "
            f"{describe(head)}, the last matching head sealed {matched} records")


def trusted_keys(chain: KeyChain, anchor: Ed25519PublicKey) -> dict[str, Ed25519PublicKey]:
    """The anchor and every key linked to it by a verified hand-over in ``chain``."""
    anchor_id = key_id(anchor)
    ids = chain.trusted_from(anchor_id)
    keys = {i: chain.keys[i] for i in ids if i in chain.keys}
    keys[anchor_id] = anchor
    return keys


def check_installation(data_dir: Path, anchor: Ed25519PublicKey) -> list[LogReport]:
    """Every log listed in the installation's registry, checked against its heads."""
    chain = KeyChain.load(chain_path(data_dir))
    trusted = trusted_keys(chain, anchor)
    reports = [check_log(name, path, trusted) for name, path in sorted(listed(data_dir).items())]
    if chain.problems and reports:
        reports[0].problems.extend(chain.problems)
    return reports


def verify_file(path: Path, name: str | None = None) -> str | None:
    """The problems of a log against its heads' roots (signatures not checked), or None."""
    heads, _ = read_heads(sidecar(path, "heads"))
    report = check_log(name or (heads[0].log if heads else ""), path, None)
    return "; ".join(report.problems) if report.problems else None
