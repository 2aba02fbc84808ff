"""The sealing role: sign tree heads of the logs a process writes, then timestamp and witness.

While a role runs (the probe, the console), :class:`Sealer` signs a head of each of its logs
that grew, once at start (which seals a tail left unsealed by a crash), every
``evidence.head_interval_s``, and at a clean stop. After each round, every follower (the
TSA timestamper, the witnesses) works through the heads it has not handled yet; those
queues are the heads files themselves, so nothing is lost while a TSA or witness is down.
Without a signing key the logs are still written and the role keeps working; the records
stay unsealed (``heroes evidence check`` says so) and a warning says how to make a key.
Reads the ``evidence`` settings section.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from config.sections.evidence import EvidenceSettings
from evidence.errors import EvidenceError, KeyMissing
from evidence.heads import TreeHead
from evidence.keys import SigningKey, load_signing_key
from evidence.sealedlog import SealedLog

log = logging.getLogger(__name__)


class HeadFollower(Protocol):
    """Something done with every head of a log, resumable from durable state."""

    def process(self, log: SealedLog) -> None: ...


class Sealer:
    """Seal ``logs`` with ``key``; use ``await sealer.run(stop)`` then ``sealer.close()``."""

    def __init__(self, logs: Sequence[SealedLog], key: SigningKey | None, interval_s: float,
                 followers: Sequence[HeadFollower] = ()):
        self.logs = list(logs)
        self.key = key
        self.interval_s = interval_s
        self.followers = list(followers)
        self.heads = 0
        self.failures = 0
        self._round = threading.Lock()  # one round at a time, whichever thread asks

    @classmethod
    def from_settings(cls, cfg: EvidenceSettings, logs: Sequence[SealedLog], *,
                      data_dir: Path | None = None) -> Sealer:
        """The sealer of these settings: its key (or none, with a warning), TSA, witnesses."""
        try:
            key: SigningKey | None = load_signing_key(cfg.signing_key_file)
        except KeyMissing as exc:
            log.warning("evidence logs %s stay unsealed: %s",
                        ", ".join(lg.name for lg in logs), exc)
            key = None
        except EvidenceError as exc:  # recording goes on; sealing waits for a usable key
            log.error("evidence logs %s stay unsealed: %s", ", ".join(lg.name for lg in logs),
                      exc)
            key = None
        followers: list[HeadFollower] = []
        if cfg.tsa_url:
            from evidence.tsa import Timestamper

            followers.append(Timestamper.from_settings(cfg))
        if cfg.witnesses:
            from evidence.witness import Witnesses

            followers.append(Witnesses.from_settings(cfg, data_dir))
        return cls(logs, key, cfg.head_interval_s, followers)

    def open_logs(self) -> None:
        """Read each log once at start: a torn last line left by a crash is repaired now,
        with or without a key."""
        for sealed in self.logs:
            try:
                sealed.open()
            except OSError as exc:
                self.failures += 1
                log.error("cannot read %s: %s", sealed.path, exc)

    def seal_once(self) -> list[TreeHead]:
        """One round: a head for each log that grew, then every follower's backlog."""
        with self._round:
            return self._seal_round()

    def _seal_round(self) -> list[TreeHead]:
        made: list[TreeHead] = []
        for sealed in self.logs:
            if self.key is not None:
                try:
                    head = sealed.seal(self.key)
                except (OSError, EvidenceError) as exc:
                    self.failures += 1
                    log.error("cannot seal %s: %s", sealed.path, exc)
                    continue
                if head is not None:
                    made.append(head)
                    log.info("sealed %s: %d records, root %s", sealed.name, head.size,
                             head.root.hex()[:16])
            for follower in self.followers:
                try:
                    follower.process(sealed)
                except (OSError, EvidenceError) as exc:
                    self.failures += 1
                    log.warning("%s for %s: %s (retried next round)",
                                type(follower).__name__, sealed.name, exc)
        self.heads += len(made)
        return made

    async def run(self, stop: asyncio.Event) -> None:
        """Seal at start, then every interval until ``stop``; :meth:`close` seals the last."""
        await asyncio.to_thread(self.open_logs)
        await asyncio.to_thread(self.seal_once)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                await asyncio.to_thread(self.seal_once)

    def close(self) -> None:
        """The clean-stop head: everything written until now is sealed."""
        self.seal_once()
