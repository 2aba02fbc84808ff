"""Settings of the service surface of long-running roles: metrics, health and log format.

``[metrics] listen`` (empty: off) is where a long-running command (crawl, probe, discover,
drain, alert sender, console) serves Prometheus metrics on ``/metrics`` and its health on
``/healthz`` and ``/readyz``; every role of one process shares that one listener.
``[logging] format`` chooses plain text lines (the default) or one JSON object per line.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from config.sections.base import Section


class MetricsSettings(Section):
    listen: str = Field(
        "", description="HOST:PORT where long-running roles serve /metrics, /healthz and "
        "/readyz, e.g. \"127.0.0.1:9464\" (port 0: any free port). Empty: off.")
    ready_timeout_s: float = Field(
        5.0, gt=0, description="Seconds each /readyz check (backend, spool, Redis) may take "
        "before it counts as not answering.")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        text = value.strip()
        if text:
            split_listen(text)
        return text

    @property
    def endpoint(self) -> tuple[str, int] | None:
        """``(host, port)``, or None when metrics are off."""
        return split_listen(self.listen) if self.listen else None


def split_listen(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:9464"`` for IPv6) as ``(host, port)``, else ValueError."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
        if not sep or not 0 <= number <= 65535:
            raise ValueError
    except ValueError:
        # The loader quotes the bad value itself.
        raise ValueError("expected IP:PORT, e.g. \"127.0.0.1:9464\"") from None
    return host, number


class LoggingSettings(Section):
    format: Literal["text", "json"] = Field(
        "text", description="Log lines on stderr: \"text\" (for a terminal) or \"json\" (one "
        "object per line: time, level, role, logger, message and the record's extra fields).")
