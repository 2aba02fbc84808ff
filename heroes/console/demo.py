"""The console account of a demo installation: one analyst with a random password.

``heroes demo`` ends by calling :func:`demo_access` on the demo's data directory and printing
its lines, so the user can open the console on exactly that data. The account exists only
in that data directory; there is never a default account. Reads ``[console]``.
"""

from __future__ import annotations

import secrets

from config import Settings
from heroes.console.audit import AuditLog
from heroes.console.users import UserStore

DEMO_USER = "demo-analyst"


def demo_access(settings: Settings) -> list[str]:
    """Create (or reset) the demo analyst with a fresh password; returns how to log in."""
    password = secrets.token_urlsafe(12)
    users = UserStore.for_data_dir(settings.data_dir, settings.console)
    try:
        users.add(DEMO_USER, "analyst", password, replace=True)
    finally:
        users.close()
    AuditLog.for_data_dir(settings.data_dir).record(
        "user_add", user="(demo)", target=DEMO_USER, role="analyst"
    )
    host, port = settings.console.host, settings.console.port
    return [
        f"open the console on this data:  heroes --data-dir {settings.data_dir} serve",
        f"then browse http://{host}:{port}/ and log in as {DEMO_USER!r} "
        f"with password {password!r} (analyst, this data directory only)",
    ]
