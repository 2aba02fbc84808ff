"""The log on stderr: plain text for a terminal, or one JSON object per line for a collector.

:func:`configure_logging` installs the handler once per process with ``[logging] format``:

- ``text``: ``time level logger: message``, as before.
- ``json``: ``{"time", "level", "role", "logger", "event", "message", ...}`` per line:
  ``time`` in UTC ISO 8601 with offset, ``role`` the role whose task logged (the drain, the
  probe, ...; else the command), ``event`` the message before its arguments are filled in
  (the same for every occurrence, so it can be counted), then every ``extra`` field of the
  record, and ``exception`` with the traceback when there is one.

Both formats mask the credentials of any URL in a message or field
(:func:`config.secrets.mask_urls`). The role comes from :data:`ROLE`, which the roles
runner sets in the context of each role's task (child tasks inherit it). Reads
``log_level`` and ``[logging]``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from config.secrets import mask_urls

ROLE: contextvars.ContextVar[str] = contextvars.ContextVar("heroes_role", default="")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName"}


class TextFormatter(logging.Formatter):
    """The plain format, with URL credentials masked."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return mask_urls(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for the fields)."""

    def __init__(self, default_role: str = "") -> None:
        super().__init__()
        self.default_role = default_role

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "role": ROLE.get() or self.default_role,
            "logger": record.name,
            "event": mask_urls(str(record.msg)),
            "message": mask_urls(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = mask_urls(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = mask_urls(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = mask_urls(record.exc_text)
        return json.dumps(entry, default=_plain, ensure_ascii=False)


def _plain(value: object) -> str:
    # str() of a SecretStr is its mask, never the secret.
    return mask_urls(str(value))


def formatter(fmt: str, default_role: str = "") -> logging.Formatter:
    """The formatter of ``[logging] format`` (``"text"`` or ``"json"``)."""
    if fmt == "json":
        return JsonFormatter(default_role)
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"logging.format: expected \"text\" or \"json\", got {fmt!r}")


def configure_logging(level: str, fmt: str = "text", *, role: str = "",
                      stream: TextIO | None = None) -> None:
    """Log at ``level`` on ``stream`` (stderr) in ``fmt``; once per process, like
    ``logging.basicConfig`` (a root logger that already has a handler is left alone)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt, role))
    root.addHandler(handler)
    root.setLevel(level)
