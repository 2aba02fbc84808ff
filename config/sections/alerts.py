"""Settings of alert rules (alerting.rules, .engine) and their email (alerting.mailer).

A rule's spans (``realert_s``, ``window_s``, ``digest_s``) are seconds, written as a number
or as a duration in the one syntax of :mod:`config.timespec` (``"90s"``, ``"1h"``, ``"7d"``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator

from config.sections.base import Section
from config.timespec import parse_duration
from errors import QueryError


def _seconds(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return parse_duration(value).total_seconds()
    except QueryError as exc:
        raise ValueError(str(exc)) from None


# Seconds: a number, or a duration such as "1h".
Seconds = Annotated[float, BeforeValidator(_seconds)]


class AlertRule(Section):
    name: str = Field(..., min_length=1, description="Rule name, unique.")
    type: Literal["hit", "keyword", "new_term", "frequency", "access_changed"] = Field(
        ..., description="What the rule watches."
    )
    recipients: list[str] = Field(
        default_factory=list, description="Email addresses told of each alert."
    )
    severity: Literal["low", "medium", "high", "critical"] = Field(
        "high", description="Severity of its alerts."
    )
    kinds: list[str] = Field(
        default_factory=list, description="Document kinds the rule looks at (all when empty)."
    )
    lists: list[str] = Field(
        default_factory=list, description="hit: hash lists that count (all when empty)."
    )
    categories: list[str] = Field(
        default_factory=list, description="hit: categories that count (all when empty)."
    )
    query: str = Field("", description="keyword/frequency: query string the documents must match.")
    field: str = Field("", description="new_term: field whose never-seen values alert.")
    states: list[str] = Field(
        default_factory=list,
        description="access_changed: the new access states that alert (e.g. login; all when "
        "empty).",
    )
    key: list[str] = Field(
        default_factory=list, description="Fields whose values make the dedup key."
    )
    realert_s: Seconds = Field(
        3600.0, ge=0, description='Seconds (or a duration: "1h") in which a key alerts once.'
    )
    threshold: int = Field(1, ge=1, description="frequency: documents needed within the window.")
    window_s: Seconds = Field(
        3600.0, gt=0, description='frequency: the window, in seconds or a duration ("1h").'
    )
    digest_s: Seconds = Field(
        0.0, ge=0, description='One digest email per this many seconds or duration ("1d"); 0: '
        "one per alert."
    )

    @model_validator(mode="after")
    def _needs(self) -> AlertRule:
        if self.type == "keyword" and not self.query.strip():
            raise ValueError(f"rule {self.name!r}: a keyword rule needs a query")
        if self.type == "new_term" and not self.field:
            raise ValueError(f"rule {self.name!r}: a new_term rule needs a field")
        return self


class SmtpSettings(Section):
    host: str = Field("", description="SMTP server; alert email is off while empty.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description='"starttls" or "ssl" (required), or "none" to allow plaintext explicitly.',
    )
    username: str = Field(
        "", description="SMTP user; the password comes from HEROES_SMTP__PASSWORD."
    )
    password: SecretStr = Field(SecretStr(""), description="SMTP password (environment only).")
    sender: str = Field("heroes@localhost", description="From address of alert email.")
    ca_certs: str = Field("", description="CA bundle to verify the server's certificate.")
    timeout_s: float = Field(30.0, gt=0, le=600, description="Timeout of one SMTP conversation.")
    retry_initial_s: float = Field(
        2.0, gt=0, description="First retry delay while the server is down."
    )
    retry_max_s: float = Field(600.0, gt=0, description="Longest retry delay.")
    poll_s: float = Field(
        0.5, gt=0, le=60, description="How often the sender looks for new messages, in seconds."
    )


class WebhookSettings(Section):
    """Signed JSON POSTs of every alert to case tools or chat (alerting.webhook)."""

    urls: list[str] = Field(
        default_factory=list,
        description="Endpoints (http:// or https://) that receive every alert as a signed JSON "
        "POST; off while empty.",
    )
    secret: SecretStr = Field(
        SecretStr(""),
        description="HMAC-SHA256 key of the X-Heroes-Signature header (environment only: "
        "HEROES_ALERTS__WEBHOOK__SECRET).",
    )
    secret_file: str = Field(
        "", description="A file outside the repository holding the key instead of the variable."
    )
    timeout_s: float = Field(10.0, gt=0, le=300, description="Timeout of one POST, in seconds.")

    @model_validator(mode="after")
    def _signed(self) -> WebhookSettings:
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"webhook url {url!r} is not an http:// or https:// URL")
        return self


class AlertSettings(Section):
    console_url: str = Field(
        "http://127.0.0.1:8080", description="Base URL of the console, for links in alert email."
    )
    max_matched: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Matched documents listed in one alert at most (the count goes on).",
    )
    cluster: bool = Field(
        True,
        description="With the elasticsearch backend, alerts and their email are shared by every "
        "machine on the cluster: one alert and one email however many raise it.",
    )
    delivery_lease_s: Seconds = Field(
        120.0,
        gt=0,
        description="A sender's claim on one cluster email, in seconds or a duration; a sender "
        "that dies mid-delivery gives the message back after it.",
    )
    webhook: WebhookSettings = Field(
        default_factory=WebhookSettings, description="The signed webhook channel."
    )
    rules: list[AlertRule] = Field(
        default_factory=list, description="Alert rules ([[alerts.rules]] tables)."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSettings:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return self
