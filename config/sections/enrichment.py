"""Offline IP enrichment of peers: MaxMind DB files the unit supplies (``triage.enrichment``).

Both files are optional; while a path is empty nothing is looked up and nothing leaves the
machine (lookups are local file reads in any case). ``geoip_db`` is a City or Country
database (country, region, time zone), ``asn_db`` an ASN database (network, AS number and
organisation). A file that is missing or not a MaxMind DB is refused when the settings are
loaded, naming the key (the MaxMind DB metadata marker must be in its last 128 KiB).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from config.sections.base import Section

# The format's metadata section starts after this marker, within the file's last 128 KiB.
METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
METADATA_WINDOW = 128 * 1024


class EnrichmentSettings(Section):
    geoip_db: str = Field(
        "", description="MaxMind DB file (GeoIP2/GeoLite2 City or Country) for country, "
        "region and time zone of a peer (off while empty).")
    asn_db: str = Field(
        "", description="MaxMind DB file (GeoIP2/GeoLite2 ASN) for a peer's network and AS "
        "(off while empty).")

    @field_validator("geoip_db", "asn_db")
    @classmethod
    def _maxmind_db(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return value
        path = Path(value).expanduser()
        try:
            with path.open("rb") as fh:
                size = fh.seek(0, 2)
                fh.seek(max(0, size - METADATA_WINDOW))
                tail = fh.read()
        except OSError as exc:
            raise ValueError(
                f"{info.field_name} {value!r} cannot be read: {exc.strerror}") from None
        if METADATA_MARKER not in tail:
            raise ValueError(f"{info.field_name} {value!r} is not a MaxMind DB file")
        return value
