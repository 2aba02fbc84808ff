"""Settings of several installations on one Elasticsearch cluster, as the cluster tests use them.

Each installation has its own data directory and shares the index prefix (the cluster's
alerts, outbox and lists); mail goes to the lab sink. :func:`sender_config` writes the same
installation as a config file for a sender run as a separate process.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from config import Settings

CONSOLE = "http://console.localhost"


def silent_smtp_server() -> socket.socket:
    """A listener that accepts and never answers: an SMTP conversation hangs there."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server


def smtp_to(port: int, **overrides: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "tls": "none", "poll_s": 0.1,
            "retry_initial_s": 0.2, "retry_max_s": 1.0, "timeout_s": 5.0, **overrides}


def installation(build: Callable[..., Settings], prefix: str, data: Path, smtp_port: int, *,
                 rules: Sequence[dict[str, Any]], alerts: dict[str, Any] | None = None,
                 **overrides: Any) -> Settings:
    """One installation on the cluster ``build`` (es_settings or es_cluster_settings) names."""
    return build(
        prefix, data_dir=str(data),
        alerts={"rules": list(rules), "console_url": CONSOLE, **(alerts or {})},
        smtp=smtp_to(smtp_port), **overrides,
    )


def sender_config(path: Path, settings: Settings, *, smtp_port: int | None = None,
                  smtp_timeout_s: float = 5.0) -> Path:
    """``settings``' cluster, lease, webhooks and rules as a file for ``heroes alerts send``."""
    es = settings.elasticsearch
    alerts = settings.alerts
    port = settings.smtp.port if smtp_port is None else smtp_port
    lines = [
        '[index]\nbackend = "elasticsearch"',
        f"[elasticsearch]\nhosts = {json.dumps(list(es.hosts))}\n"
        f"index_prefix = {json.dumps(es.index_prefix)}",
        f"[alerts]\ndelivery_lease_s = {alerts.delivery_lease_s}\n"
        f"console_url = {json.dumps(alerts.console_url)}",
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\npoll_s = 0.1\n'
        f"retry_initial_s = 0.2\nretry_max_s = 1.0\ntimeout_s = {smtp_timeout_s}",
    ]
    if alerts.webhook.urls:
        # The key stays out of the file: the caller passes HEROES_ALERTS__WEBHOOK__SECRET.
        lines.append(f"[alerts.webhook]\nurls = {json.dumps(alerts.webhook.urls)}")
    for rule in alerts.rules:
        lines.append(f"[[alerts.rules]]\nname = {json.dumps(rule.name)}\n"
                     f"type = {json.dumps(rule.type)}\n"
                     f"recipients = {json.dumps(rule.recipients)}\n"
                     f"key = {json.dumps(rule.key)}\ndigest_s = {rule.digest_s}")
    path.write_text("\n".join(lines) + "\n")
    return path
