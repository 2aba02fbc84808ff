"""The drain stages an installation runs on every document it indexes.

Pages first name the torrents their magnet links point to (``index.derive``), so that the
probe can watch them; matching (``matching`` settings) then marks flagged documents; the
alert engine (``alerts`` settings, its email waits for ``smtp``) then sees the marked,
committed documents. Each stage that is off says why in the log.
"""

from __future__ import annotations

import logging

from config import Settings
from index.alerts.db import alert_db_path
from index.alerts.engine import AlertEngine
from index.derive import TorrentsFromPages
from index.drain import DrainStage
from index.hashsets.membership import MembershipStore, membership_path
from index.matching import MatchingStage
from index.store import Store

log = logging.getLogger(__name__)


def drain_stages(settings: Settings, store: Store) -> list[DrainStage]:
    stages: list[DrainStage] = [TorrentsFromPages()]
    if settings.matching.enabled:
        members = MembershipStore(membership_path(settings.data_dir))
        stages.append(MatchingStage(members, settings.matching))
    else:
        log.info("matching is off (matching.enabled = false)")
    if settings.alerts.rules:
        stages.append(AlertEngine(settings.alerts, alert_db_path(settings.data_dir), store.append))
        if not settings.smtp.host:
            log.warning("%d alert rules but smtp.host is empty: alert email waits in the outbox",
                        len(settings.alerts.rules))
    else:
        log.info("alert rules are off (no [[alerts.rules]] configured)")
    log.info("drain stages: %s", ", ".join(s.name for s in stages) or "none")
    return stages
