"""The webhook channel: one alert as a signed JSON POST to a case tool or chat (aiohttp).

Reads ``alerts.webhook``. The request carries the alert's JSON (alerting.render) as its body
and three headers: ``X-Heroes-Timestamp`` (Unix seconds when it was sent),
``X-Heroes-Signature: sha256=<hex>`` (HMAC-SHA256 with the configured key over
``<timestamp>.<body>``, so an old request replayed later fails a receiver that checks the
age) and ``X-Heroes-Delivery`` (the message id, the same on every retry, for a receiver
that wants to drop a duplicate). The key comes from ``HEROES_ALERTS__WEBHOOK__SECRET`` or
``alerts.webhook.secret_file``; there is no default, and without one the channel is off
(its messages wait in the outbox) and says why.

How it fails, as the mailer does: :class:`~alerting.mailer.ServerUnreachable` (no answer,
refused, timed out), :class:`~alerting.mailer.TemporaryFailure` (5xx, 408, 429: retried
from the outbox) or :class:`~alerting.mailer.PermanentFailure` (any other 4xx, such as a
receiver refusing the signature: retrying the same bytes changes nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import aiohttp

from alerting.delivery import OutMessage
from alerting.mailer import PermanentFailure, ServerUnreachable, TemporaryFailure
from config.sections.alerts import WebhookSettings
from errors import HeroesError

SIGNATURE = "X-Heroes-Signature"
TIMESTAMP = "X-Heroes-Timestamp"
DELIVERY = "X-Heroes-Delivery"
_RETRIED = (408, 425, 429)


class WebhookKeyMissing(HeroesError):
    """The webhook key's file cannot be read or is empty: the channel cannot sign."""


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Heroes-Signature`` value of a request (what a receiver recomputes)."""
    mac = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(key: bytes, timestamp: str, body: bytes, header: str, *, now: float,
           max_age_s: float = 300.0) -> bool:
    """Whether a received request is signed with ``key`` and recent (a receiver's check)."""
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(signature(key, timestamp, body), header)


def load_key(settings: WebhookSettings) -> bytes:
    """The signing key: the environment's, else the file's. Raises WebhookKeyMissing."""
    key = settings.secret.get_secret_value()
    if key:
        return key.encode()
    if not settings.secret_file:
        raise WebhookKeyMissing(
            "alerts.webhook.urls is set but no key signs the requests: set "
            "HEROES_ALERTS__WEBHOOK__SECRET or alerts.webhook.secret_file (webhook messages "
            "wait in the outbox)")
    path = Path(settings.secret_file)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise WebhookKeyMissing(
            f"alerts.webhook.secret_file {str(path)!r} cannot be read: {exc}") from exc
    if not text:
        raise WebhookKeyMissing(f"alerts.webhook.secret_file {str(path)!r} is empty")
    return text.encode()


class WebhookChannel:
    """Posts webhook messages; one HTTP session for the sender's life. Without a key the
    channel is off (``off``, the reason) and its messages wait in the outbox."""

    def __init__(self, settings: WebhookSettings):
        self.settings = settings
        self.key = b""
        self.off = "" if settings.urls else "alerts.webhook.urls is empty"
        if settings.urls:
            try:
                self.key = load_key(settings)
            except WebhookKeyMissing as exc:
                self.off = str(exc)
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, out: OutMessage) -> str:
        """POST one message; returns the receiver's status line. Raises DeliveryError."""
        if not self.key:
            raise TemporaryFailure(
                f"webhook {out.recipient!r}: no key to sign with (alerts.webhook.urls no longer "
                "names it); the message waits")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s))
        body = out.text_body.encode()
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP: stamp,
                   SIGNATURE: signature(self.key, stamp, body), DELIVERY: out.message_id}
        try:
            async with self._session.post(out.recipient, data=body, headers=headers,
                                          allow_redirects=False) as resp:
                reply = f"HTTP {resp.status} {resp.reason or ''}".strip()
                detail = (await resp.text())[:200]
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ServerUnreachable(
                f"webhook {out.recipient!r} unreachable: {type(exc).__name__}: {exc}") from exc
        if 200 <= resp.status < 300:
            return reply
        text = f"webhook {out.recipient!r} answered {reply}: {detail!r}"
        if resp.status >= 500 or resp.status in _RETRIED:
            raise TemporaryFailure(text)
        raise PermanentFailure(text)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
