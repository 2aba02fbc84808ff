"""Audit records of session use: which session (never its cookies), for which onion, supplied
by which analyst, in which crawl job. They go to the installation's audit log (the sealed
log at ``<data_dir>/audit/audit.log``). Reads ``data_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config import Settings
from crawler.sessions.store import Session
from evidence.registry import AUDIT, audit_log_path, open_log


def record(settings: Settings, action: str, *, user: str, **details: Any) -> None:
    data_dir = Path(settings.data_dir)
    log = open_log(data_dir, AUDIT, audit_log_path(data_dir))
    log.append({"action": action, "user": user, "address": "",
                **{k: v for k, v in details.items() if v is not None}})


def record_use(settings: Settings, session: Session, *, job: str) -> None:
    record(settings, "session_use", user=session.analyst, onion=session.onion,
           session=session.id, source=session.source, job=job or None)
