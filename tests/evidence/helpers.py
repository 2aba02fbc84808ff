"""Test helpers: a probe-like log of observations, sealed in several heads, and an export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evidence.export import Source, export
from evidence.keys import SigningKey
from evidence.registry import open_log
from evidence.sealedlog import SealedLog

IH = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
OTHER = "0123456789abcdef0123456789abcdef01234567"


def observation(i: int, infohash: str = IH) -> dict[str, Any]:
    return {"type": "observation", "infohash": infohash, "ip": f"127.0.0.{10 + i % 50}",
            "port": 6881 + i, "level": 1 + i % 3, "probe_id": "probe-1", "probe_version": "t"}


def probe_log(data_dir: Path, key: SigningKey, n: int = 90) -> SealedLog:
    log = open_log(data_dir, "probe/probe-1", data_dir / "evidence" / "probe-1.chain.jsonl")
    for i in range(n):
        log.append(observation(i, IH if i % 2 else OTHER))
        if i in (20, 50):
            log.seal(key)
    return log


def wanted(record: dict[str, Any]) -> bool:
    return (record.get("data") or {}).get("infohash") == IH


def make_export(data_dir: Path, key: SigningKey, out: Path, *, tsa_ca: Path | None = None,
                n: int = 90) -> dict[str, Any]:
    log = probe_log(data_dir, key, n)
    return export([Source(log, wanted)], out, key=key, data_dir=data_dir, tool_version="9.9",
                  config_sha256="c" * 64, selector={"infohash": IH}, tsa_ca=tsa_ca)
