"""Settings of the sealed evidence logs (the ``evidence`` package, ``heroes keys|evidence``).

The signing key is a file outside the data directory (never in the repository or these
defaults: only its path is a setting); tree heads are signed every ``head_interval_s``
while a role runs, timestamped by ``tsa_url`` when set and sent to ``witnesses``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from config.sections.base import Section


class EvidenceSettings(Section):
    signing_key_file: Path = Field(
        Path("~/.config/heroes/evidence-signing-key.pem"),
        description="The installation's Ed25519 signing key (PEM), made by `heroes keys init`; "
        "keep it outside the data directory (env HEROES_EVIDENCE__SIGNING_KEY_FILE).",
    )
    head_interval_s: float = Field(
        60.0, gt=0, le=86_400,
        description="Seconds between signed tree heads of a log that grew, while a role runs.",
    )
    tsa_url: str = Field(
        "", description="RFC 3161 Time Stamping Authority for every tree head (off while empty)."
    )
    tsa_ca_file: str = Field(
        "", description="CA certificate (PEM) the TSA's tokens are checked against on receipt."
    )
    tsa_timeout_s: float = Field(10.0, gt=0, le=300, description="Timeout of one TSA request.")
    witnesses: list[str] = Field(
        default_factory=list,
        description="Who receives a copy of every tree head: email addresses (sent through the "
        "alert outbox) and http(s):// endpoints (POSTed as JSON).",
    )
    witness_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Timeout of one HTTP witness delivery."
    )

    @field_validator("witnesses")
    @classmethod
    def _witness_kinds(cls, values: list[str]) -> list[str]:
        for value in values:
            if not (value.startswith(("http://", "https://")) or "@" in value):
                raise ValueError(
                    f"witness {value!r} is neither an email address nor an http(s):// URL")
        return values

    @field_validator("tsa_url")
    @classmethod
    def _tsa_scheme(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"tsa_url {value!r} is not an http(s):// URL")
        return value
