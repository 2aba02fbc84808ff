"""Witnesses: a copy of every tree head sent outside the installation.

A witness holding a head makes a later rewrite of the log contradict a copy the
installation does not control. Each ``evidence.witnesses`` entry is an email address (the
head goes into the durable alert outbox, ``alerting.outbox``, and the alert sender delivers
it with retries) or an ``http(s)://`` endpoint (the head's JSON is POSTed; any 2xx answer
counts). Deliveries are recorded one JSON line each in ``L.witnessed``; heads not recorded
there for a witness are its queue, retried whenever the sealer runs. Reads the
``evidence`` settings section and the data directory (for the outbox).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.sections.evidence import EvidenceSettings
from evidence.errors import EvidenceError
from evidence.heads import TreeHead, append_line, read_heads
from evidence.sealedlog import SealedLog, read_lines, sidecar

log = logging.getLogger(__name__)


def witnessed_path(sealed: SealedLog) -> Path:
    return sidecar(sealed.path, "witnessed")


def read_deliveries(path: Path) -> set[tuple[str, str]]:
    """(witness, signature_sha256) of every recorded delivery."""
    lines, _ = read_lines(path)
    done: set[tuple[str, str]] = set()
    for line in lines:
        try:
            entry = json.loads(line)
            done.add((str(entry["witness"]), str(entry["signature_sha256"])))
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable delivery line %r", path, line[:80])
    return done


def head_email(head: TreeHead) -> tuple[str, str]:
    """Subject and text of the email that carries one head to a witness."""
    subject = f"heroes tree head: {head.log} size {head.size}"
    text = (
        "A signed tree head of a heroes evidence log. Keep this message: a later copy of the\n"
        "log must still produce this root at this size (docs/evidence-format.md).\n\n"
        f"log: {head.log}\nsize: {head.size}\nroot: {head.root.hex()}\n"
        f"timestamp_ms: {head.timestamp_ms}\nkey_id: {head.key_id}\n\n"
        "The head as JSON (its signature covers the signed text below):\n"
        f"{json.dumps(head.to_json(), sort_keys=True)}\n\n"
        f"Signed text:\n{head.message.decode()}"
    )
    return subject, text


class Witnesses:
    """The witness follower of the sealer."""

    def __init__(self, targets: list[str], timeout_s: float,
                 outbox: Callable[[], Any] | None = None):
        self.targets = targets
        self.timeout_s = timeout_s
        self._outbox_factory = outbox
        self._outbox: Any = None

    @classmethod
    def from_settings(cls, cfg: EvidenceSettings, data_dir: Path | None) -> Witnesses:
        def outbox() -> Any:
            from alerting.db import AlertDB, alert_db_path
            from alerting.outbox import Outbox

            if data_dir is None:
                raise EvidenceError("email witnesses need the data directory's outbox")
            return Outbox(AlertDB(alert_db_path(data_dir)))

        return cls(list(cfg.witnesses), cfg.witness_timeout_s, outbox)

    def process(self, sealed: SealedLog) -> None:
        heads, _ = read_heads(sealed.heads_path)
        path = witnessed_path(sealed)
        done = read_deliveries(path)
        failed: list[str] = []
        for head in heads:
            for target in self.targets:
                if (target, head.signature_sha256) in done or target in failed:
                    continue
                try:
                    via = self._deliver(target, head)
                except EvidenceError as exc:
                    failed.append(target)  # keep the order: retry this witness next round
                    log.warning("witness %s: %s", target, exc)
                    continue
                append_line(path, {"witness": target, "signature_sha256": head.signature_sha256,
                                   "size": head.size, "at_ms": int(time.time() * 1000),
                                   "via": via})
                done.add((target, head.signature_sha256))
        if failed:
            raise EvidenceError(f"{len(failed)} witness(es) not reached: {', '.join(failed)}")

    def _deliver(self, target: str, head: TreeHead) -> str:
        if target.startswith(("http://", "https://")):
            return self._post(target, head)
        from alerting.outbox import message_id

        if self._outbox is None:
            if self._outbox_factory is None:
                raise EvidenceError(f"no outbox to send the head to {target!r}")
            self._outbox = self._outbox_factory()
        subject, text = head_email(head)
        self._outbox.enqueue(message_id("tree-head", head.signature_sha256, target), target,
                             subject, text, time.time())
        return "outbox"

    def _post(self, url: str, head: TreeHead) -> str:
        body = json.dumps(head.to_json(), sort_keys=True).encode()
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            raise EvidenceError(f"{url!r} answered {exc.code}") from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise EvidenceError(f"{url!r} unreachable: {exc}") from exc
        return f"http {status}"


def witness_status(sealed: SealedLog) -> dict[str, int]:
    heads, _ = read_heads(sealed.heads_path)
    done = {sig for _, sig in read_deliveries(witnessed_path(sealed))}
    return {"witnessed": sum(1 for h in heads if h.signature_sha256 in done)}
