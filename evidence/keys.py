"""The installation's Ed25519 signing key, its key id, and the chain of keys across rotations.

The private key is a PKCS#8 PEM file (mode 0600) at ``evidence.signing_key_file``; there is
no default key. The key id is the SHA-256 of the raw 32-byte public key, in hex. Every key
the installation has used is listed in its key chain, ``<data_dir>/evidence/keys.jsonl``:
a ``key`` line when a key is made, and a ``rotation`` line when it is replaced, whose
statement (docs/evidence-format.md) is signed by the old key and countersigned by the new
one, so a verifier can follow the chain from a key it trusts in either direction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.errors import EvidenceError, KeyInvalid, KeyMissing

ROTATION_FORMAT = "heroes-key-rotation/1"
HOW_TO_MAKE = ("make one with `heroes keys init`, or point evidence.signing_key_file "
               "(HEROES_EVIDENCE__SIGNING_KEY_FILE) at an existing key")


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: the fingerprint printed and put in every head."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes, *, where: str = "public key") -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise KeyInvalid(f"{where}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyInvalid(f"{where}: not an Ed25519 key ({type(key).__name__})")
    return key


def verify_signature(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    """A loaded private key with its public half and key id."""

    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def resolve(path: Path | str) -> Path:
    return Path(path).expanduser()


def load_signing_key(path: Path | str) -> SigningKey:
    """The key at ``path``; :class:`KeyMissing` (saying how to make one) when there is none."""
    path = resolve(path)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise KeyMissing(f"no signing key at {str(path)!r}: {HOW_TO_MAKE}") from None
    except OSError as exc:
        raise KeyInvalid(f"{path}: cannot read the signing key ({exc})") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyInvalid(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyInvalid(f"{path}: not an Ed25519 key ({type(key).__name__})")
    return SigningKey(key, path)


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)


def chain_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "evidence" / "keys.jsonl"


def _append_chain(data_dir: Path | str, entry: dict[str, Any]) -> None:
    path = chain_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _key_entry(key: Ed25519PublicKey, at_ms: int) -> dict[str, Any]:
    return {"type": "key", "key_id": key_id(key), "public_key": public_pem(key).decode(),
            "created_ms": at_ms}


def init_key(path: Path | str, data_dir: Path | str) -> SigningKey:
    """Make a new key at ``path`` (never overwriting one) and list it in the key chain."""
    path = resolve(path)
    if path.exists():
        raise EvidenceError(f"{path} already exists; `heroes keys rotate` replaces a key")
    key = Ed25519PrivateKey.generate()
    _write_private(path, key)
    _append_chain(data_dir, _key_entry(key.public_key(), int(time.time() * 1000)))
    return SigningKey(key, path)


def rotation_statement(old_id: str, new_key: Ed25519PublicKey, at_ms: int) -> bytes:
    return (f"{ROTATION_FORMAT}\n{old_id}\n{key_id(new_key)}\n{raw_public(new_key).hex()}\n"
            f"{at_ms}\n").encode()


def rotate_key(path: Path | str, data_dir: Path | str) -> tuple[SigningKey, SigningKey, Path]:
    """Replace the key at ``path``: returns (old, new, where the old private key was kept).

    The hand-over statement is signed by the old key and countersigned by the new one and
    appended to the key chain before the new key takes the old one's place.
    """
    old = load_signing_key(path)
    new_private = Ed25519PrivateKey.generate()
    new = SigningKey(new_private, old.path)
    at_ms = int(time.time() * 1000)
    statement = rotation_statement(old.key_id, new.public, at_ms)
    pending = old.path.with_name(old.path.name + ".new")
    if pending.exists():
        pending.unlink()
    _write_private(pending, new_private)
    chain = chain_path(data_dir)
    if not chain.exists():
        _append_chain(data_dir, _key_entry(old.public, at_ms))
    _append_chain(data_dir, {
        "type": "rotation", "old_key_id": old.key_id, "new_key_id": new.key_id,
        "new_public_key": public_pem(new.public).decode(), "at_ms": at_ms,
        "statement": statement.decode(),
        "old_signature": base64.b64encode(old.sign(statement)).decode(),
        "new_signature": base64.b64encode(new.sign(statement)).decode(),
    })
    retired = old.path.with_name(f"{old.path.name}.retired-{old.key_id[:16]}")
    os.replace(old.path, retired)
    os.replace(pending, old.path)
    return old, new, retired


@dataclass
class KeyChain:
    """The public keys of an installation and the verified hand-overs between them."""

    keys: dict[str, Ed25519PublicKey]
    links: list[tuple[str, str]]  # (old, new), each verified with both signatures
    problems: list[str]

    @classmethod
    def from_lines(cls, lines: Iterable[str], where: str) -> KeyChain:
        chain = cls({}, [], [])
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                chain._add(entry)
            except (ValueError, KeyError, TypeError, EvidenceError) as exc:
                chain.problems.append(f"{where}:{number}: {exc}")
        return chain

    @classmethod
    def load(cls, path: Path) -> KeyChain:
        if not path.exists():
            return cls({}, [], [])
        return cls.from_lines(path.read_text(encoding="utf-8").splitlines(), str(path))

    def _add(self, entry: dict[str, Any]) -> None:
        if entry["type"] == "key":
            key = load_public_key(entry["public_key"].encode())
            if key_id(key) != entry["key_id"]:
                raise EvidenceError(f"key_id {entry['key_id']!r} is not the key's fingerprint")
            self.keys[key_id(key)] = key
        elif entry["type"] == "rotation":
            new = load_public_key(entry["new_public_key"].encode())
            old = self.keys.get(entry["old_key_id"])
            if old is None:
                raise EvidenceError(f"rotation from unknown key {entry['old_key_id']!r}")
            statement = rotation_statement(entry["old_key_id"], new, int(entry["at_ms"]))
            if statement.decode() != entry["statement"]:
                raise EvidenceError("rotation statement does not match its fields")
            if not (verify_signature(old, base64.b64decode(entry["old_signature"]), statement)
                    and verify_signature(new, base64.b64decode(entry["new_signature"]),
                                         statement)):
                raise EvidenceError(f"rotation {entry['old_key_id'][:16]}… -> "
                                    f"{key_id(new)[:16]}…: a signature does not verify")
            self.keys[key_id(new)] = new
            self.links.append((entry["old_key_id"], key_id(new)))
        else:
            raise EvidenceError(f"unknown entry type {entry['type']!r}")

    def trusted_from(self, anchor: str) -> set[str]:
        """Key ids linked to ``anchor`` by verified hand-overs (anchor included)."""
        trusted = {anchor}
        grew = True
        while grew:
            grew = False
            for old, new in self.links:
                if (old in trusted) != (new in trusted):
                    trusted |= {old, new}
                    grew = True
        return trusted
