"""Signed tree heads: the signed text, its JSON line in a heads file, and reading them back.

A head commits to the first ``size`` records of one log: its Merkle ``root``, the time it
was made (milliseconds since the epoch, UTC) and the id of the key that signed it. The
signed bytes are the text of :func:`head_message` (docs/evidence-format.md §Tree heads);
``openssl pkeyutl -verify -rawin`` checks the signature over exactly these bytes. Reads no
settings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence.keys import SigningKey, verify_signature

HEAD_FORMAT = "heroes-tree-head/1"


def head_message(log: str, size: int, root: bytes, timestamp_ms: int, key_id: str) -> bytes:
    return (f"{HEAD_FORMAT}\n{log}\n{size}\n{root.hex()}\n{timestamp_ms}\n{key_id}\n").encode()


@dataclass(frozen=True)
class TreeHead:
    log: str
    size: int
    root: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes

    @property
    def message(self) -> bytes:
        return head_message(self.log, self.size, self.root, self.timestamp_ms, self.key_id)

    @property
    def signature_sha256(self) -> str:
        """What the RFC 3161 timestamp covers (its message imprint)."""
        return hashlib.sha256(self.signature).hexdigest()

    def verify(self, key: Ed25519PublicKey) -> bool:
        return verify_signature(key, self.signature, self.message)

    def to_json(self) -> dict[str, Any]:
        return {"log": self.log, "size": self.size, "root": self.root.hex(),
                "timestamp_ms": self.timestamp_ms, "key_id": self.key_id,
                "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_json(cls, obj: Any) -> TreeHead:
        """Parse one head; ValueError naming the field that is wrong."""
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        try:
            head = cls(log=str(obj["log"]), size=obj["size"], root=bytes.fromhex(obj["root"]),
                       timestamp_ms=obj["timestamp_ms"], key_id=str(obj["key_id"]),
                       signature=base64.b64decode(obj["signature"], validate=True))
        except KeyError as exc:
            raise ValueError(f"field {exc.args[0]!r} is missing") from exc
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad root or signature ({exc})") from exc
        if not isinstance(head.size, int) or head.size < 0:
            raise ValueError(f"field 'size' is {head.size!r}")
        if not isinstance(head.timestamp_ms, int):
            raise ValueError(f"field 'timestamp_ms' is {head.timestamp_ms!r}")
        if len(head.root) != 32 or len(head.signature) != 64:
            raise ValueError("root must be 32 bytes and signature 64")
        return head


def sign_head(key: SigningKey, log: str, size: int, root: bytes, timestamp_ms: int) -> TreeHead:
    message = head_message(log, size, root, timestamp_ms, key.key_id)
    return TreeHead(log, size, root, timestamp_ms, key.key_id, key.sign(message))


def dump_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def append_line(path: Path, obj: dict[str, Any]) -> None:
    """Append one JSON line durably (a complete line or, after a crash, a torn last one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, dump_line(obj) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_heads(path: Path) -> tuple[list[TreeHead], list[str]]:
    """Every head of a heads file, and a problem (file:line: what) for each bad line."""
    heads: list[TreeHead] = []
    problems: list[str] = []
    if not path.exists():
        return heads, problems
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    for number, line in enumerate(lines, start=1):
        try:
            heads.append(TreeHead.from_json(json.loads(line)))
        except ValueError as exc:
            problems.append(f"{path}:{number}: not a tree head ({exc}): {line[:80]!r}")
    if torn:
        problems.append(f"{path}:{len(lines) + 1}: torn last line ({len(torn)} bytes)")
    return heads, problems
