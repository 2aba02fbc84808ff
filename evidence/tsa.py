"""RFC 3161 timestamps of tree heads: the client, the token store and token checks.

Each head's signature is timestamped: the request's message imprint is SHA-256 of the 64
signature bytes, with a nonce and ``certReq`` true (built with asn1crypto), POSTed as
``application/timestamp-query`` to ``evidence.tsa_url``. A reply counts only when granted
and when its imprint and nonce are ours (and, with ``evidence.tsa_ca_file``, when its
signature chains to that CA: rfc3161-client). The full TimeStampResp is kept, one JSON line
per head in ``L.tokens``; heads without a token there are the durable queue, worked through
whenever the sealer runs, so a TSA that is down only delays tokens. Reads the ``evidence``
settings section.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos, tsp
from cryptography import x509
from rfc3161_client import PKIStatus, VerificationError, VerifierBuilder, decode_timestamp_response

from config.sections.evidence import EvidenceSettings
from evidence.errors import TimestampError
from evidence.heads import append_line, read_heads
from evidence.sealedlog import SealedLog, read_lines, sidecar

log = logging.getLogger(__name__)

MAX_REPLY = 1 << 20


def build_request(digest: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq for a SHA-256 digest we already hold."""
    return tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                            "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    }).dump()


@dataclass(frozen=True)
class TokenInfo:
    gen_time: str
    serial: int
    tsa_name: str


def inspect_reply(reply: bytes, digest: bytes, nonce: int | None = None,
                  ca_pem: bytes | None = None) -> TokenInfo:
    """Check a TimeStampResp: granted, our imprint (and nonce), chain to ``ca_pem`` if given."""
    try:
        resp = decode_timestamp_response(reply)
    except ValueError as exc:
        raise TimestampError(f"not a TimeStampResp ({exc})") from exc
    if resp.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"the TSA refused: status {resp.status}, {resp.status_string!r}")
    info = resp.tst_info
    if info.message_imprint.message != digest:
        raise TimestampError("the token's message imprint is not the digest asked for")
    if nonce is not None and info.nonce != nonce:
        raise TimestampError(f"nonce {info.nonce!r} in the reply, {nonce!r} asked for")
    if ca_pem is not None:
        builder = VerifierBuilder().add_root_certificate(x509.load_pem_x509_certificate(ca_pem))
        if nonce is not None:
            builder = builder.nonce(nonce)
        try:
            builder.build().verify(resp, digest)
        except VerificationError as exc:
            raise TimestampError(f"the token does not verify against the TSA CA ({exc})") \
                from exc
    return TokenInfo(info.gen_time.isoformat(), info.serial_number, str(info.name or ""))


class TsaClient:
    """Ask one TSA for timestamps."""

    def __init__(self, url: str, timeout_s: float, ca_pem: bytes | None = None):
        self.url = url
        self.timeout_s = timeout_s
        self.ca_pem = ca_pem

    def timestamp(self, data: bytes) -> tuple[bytes, TokenInfo]:
        """The TimeStampResp (DER) for SHA-256 of ``data``; TimestampError when none."""
        digest = hashlib.sha256(data).digest()
        nonce = secrets.randbits(63)
        request = urllib.request.Request(
            self.url, data=build_request(digest, nonce), method="POST",
            headers={"Content-Type": "application/timestamp-query"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                reply = answer.read(MAX_REPLY)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise TimestampError(f"TSA {self.url!r} unreachable: {exc}") from exc
        return reply, inspect_reply(reply, digest, nonce, self.ca_pem)


def tokens_path(log: SealedLog | Path) -> Path:
    return sidecar(log.path if isinstance(log, SealedLog) else log, "tokens")


def read_tokens(path: Path) -> dict[str, dict[str, Any]]:
    """signature_sha256 -> token line of a tokens file (bad lines are skipped here and
    reported by the export's verification)."""
    lines, _ = read_lines(path)
    tokens: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
            tokens[str(entry["signature_sha256"])] = entry
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable token line %r", path, line[:80])
    return tokens


class Timestamper:
    """The TSA follower of the sealer: a token for every head that has none yet."""

    def __init__(self, client: TsaClient):
        self.client = client

    @classmethod
    def from_settings(cls, cfg: EvidenceSettings) -> Timestamper:
        ca = None
        if cfg.tsa_ca_file:
            try:
                ca = Path(cfg.tsa_ca_file).expanduser().read_bytes()
            except OSError as exc:
                log.error("evidence.tsa_ca_file %r unreadable (%s): tokens are checked for "
                          "status, imprint and nonce only", cfg.tsa_ca_file, exc)
        return cls(TsaClient(cfg.tsa_url, cfg.tsa_timeout_s, ca))

    def process(self, sealed: SealedLog) -> None:
        heads, _ = read_heads(sealed.heads_path)
        path = tokens_path(sealed)
        done = read_tokens(path)
        for head in heads:
            if head.signature_sha256 in done:
                continue
            reply, info = self.client.timestamp(head.signature)  # TimestampError: next round
            entry = {"size": head.size, "signature_sha256": head.signature_sha256,
                     "gen_time": info.gen_time, "tsr": base64.b64encode(reply).decode()}
            append_line(path, entry)
            done[head.signature_sha256] = entry
            log.info("timestamped %s head of size %d at %s", sealed.name, head.size,
                     info.gen_time)


def timestamp_status(sealed: SealedLog) -> dict[str, int]:
    heads, _ = read_heads(sealed.heads_path)
    tokens = read_tokens(tokens_path(sealed))
    stamped = sum(1 for h in heads if h.signature_sha256 in tokens)
    return {"timestamped": stamped, "timestamps_pending": len(heads) - stamped}
