"""SMTP delivery of one message (aiosmtplib), with TLS that is never silently skipped.

Reads the ``smtp`` settings section. ``tls = "ssl"`` speaks TLS from the first byte;
``"starttls"`` (the default) requires the server to offer STARTTLS and refuses to send
otherwise; only ``tls = "none"``, set explicitly, allows plaintext. The server
certificate is verified (``smtp.ca_certs`` names a private CA bundle). The password comes
from ``HEROES_SMTP__PASSWORD`` only.

How it fails: :class:`TemporaryFailure` (server down, timeout, 4xx reply, no STARTTLS
offered, authentication refused: retried later) or :class:`PermanentFailure` (a 5xx reply
to the recipient or the data: the message will not be accepted as it is).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from alerting.delivery import OutMessage
from config.sections.alerts import SmtpSettings
from errors import HeroesError


class DeliveryError(HeroesError):
    """A message was not delivered; ``temporary`` says whether to retry."""

    temporary = True


class TemporaryFailure(DeliveryError):
    temporary = True


class ServerUnreachable(TemporaryFailure):
    """No SMTP conversation was possible (refused, timed out, dropped): try all later."""


class PermanentFailure(DeliveryError):
    temporary = False


@dataclass
class Dialogue:
    """What the server said, step by step (for ``heroes mail test``)."""

    steps: list[str] = field(default_factory=list)

    def add(self, step: str, reply: object) -> None:
        self.steps.append(f"{step}: {' / '.join(str(reply).splitlines())}")


def build_message(settings: SmtpSettings, out: OutMessage) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = out.recipient
    msg["Subject"] = out.subject
    msg["Date"] = formatdate(out.created_at, usegmt=True)
    # Stable across retries: a duplicate after a crash can be recognised by the reader's client.
    msg["Message-ID"] = out.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(out.text_body)
    msg.add_alternative(out.html_body, subtype="html")
    return msg


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_certs or None)


async def deliver(
    settings: SmtpSettings, msg: EmailMessage, dialogue: Dialogue | None = None
) -> str:
    """Send one message; returns the server's reply to the data. Raises DeliveryError."""
    talk = dialogue or Dialogue()
    where = f"{settings.host}:{settings.port}"
    context = tls_context(settings) if settings.tls != "none" else None
    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        timeout=settings.timeout_s,
        use_tls=settings.tls == "ssl",
        start_tls=False,
        tls_context=context,
        local_hostname="heroes.localhost",
    )
    try:
        reply = await client.connect()
        talk.add("connect" + (" (TLS)" if settings.tls == "ssl" else ""), _reply(reply))
        talk.add("EHLO", _reply(await client.ehlo()))
        if settings.tls == "starttls":
            if not client.supports_extension("starttls"):
                raise TemporaryFailure(
                    f'SMTP server {where} does not offer STARTTLS and smtp.tls = "starttls" '
                    "requires it; the message was not sent (fix the server, or set "
                    'smtp.tls = "none" to allow plaintext explicitly)'
                )
            talk.add("STARTTLS", _reply(await client.starttls(tls_context=context)))
        if settings.username:
            password = settings.password.get_secret_value()
            talk.add("AUTH", _reply(await client.login(settings.username, password)))
        errors, response = await client.send_message(msg)
        talk.add("DATA", f"accepted ({response})")
        if errors:
            raise PermanentFailure(f"SMTP server {where} refused recipients: {errors}")
        try:
            talk.add("QUIT", _reply(await client.quit()))
        except aiosmtplib.SMTPException:
            pass  # accepted already; a rude hang-up after DATA changes nothing
        return response
    except DeliveryError:
        raise
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise _classify(where, exc, min((r.code for r in exc.recipients), default=550)) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _classify(where, exc, exc.code) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise ServerUnreachable(
            f"SMTP server {where} unreachable: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        client.close()


def _reply(reply: object) -> str:
    code = getattr(reply, "code", "")
    message = getattr(reply, "message", reply)
    return f"{code} {message}".strip()


def _classify(where: str, exc: Exception, code: int) -> DeliveryError:
    text = f"SMTP server {where} replied {code}: {exc}"
    if code in (
        530,
        534,
        535,
        538,
    ):  # authentication: a configuration problem, fixable without loss
        return TemporaryFailure(text + " (check smtp.username and HEROES_SMTP__PASSWORD)")
    return PermanentFailure(text) if 500 <= code < 600 else TemporaryFailure(text)
