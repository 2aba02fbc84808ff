"""Settings of the analyst console and its retention policy."""

from __future__ import annotations

from pydantic import Field

from config.sections.base import Section


class ConsoleSettings(Section):
    host: str = Field("127.0.0.1", description="Address the console listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the console listens on.")
    session_ttl_s: int = Field(8 * 3600, ge=60, description="Seconds a login stays valid.")
    login_attempts: int = Field(
        5, ge=1, description="Failed logins per user and address before a lock-out."
    )
    login_lockout_s: int = Field(300, ge=1, description="Seconds of a login lock-out.")
    drain: bool = Field(
        True,
        description="Drain the spool while the console runs, when no other process holds "
        "the index writer lock.",
    )
    audit_page_size: int = Field(
        200, ge=1, le=10_000, description="Audit records an admin page shows."
    )
    secure_cookies: bool = Field(
        False, description="Mark session cookies Secure (when a TLS proxy fronts the console)."
    )


class RetentionSettings(Section):
    page_days: int = Field(0, ge=0, description="Days pages are kept (0: for ever).")
    service_days: int = Field(0, ge=0, description="Days services are kept (0: for ever).")
    observation_days: int = Field(
        0, ge=0, description="Days peer observations are kept (0: for ever)."
    )
    torrent_days: int = Field(0, ge=0, description="Days torrents are kept (0: for ever).")
    alert_days: int = Field(0, ge=0, description="Days alerts are kept (0: for ever).")
