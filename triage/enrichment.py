"""Where a peer is: country, region, time zone, network and AS from offline MaxMind DB files.

:class:`Enricher` opens the files the unit configured (``enrichment.geoip_db``,
``enrichment.asn_db``) with ``maxminddb``; with neither set it opens nothing and looks
nothing up. A lookup reads only the local file. Each answer carries the database's build
date, since a database says where an address was when it was built: an analyst compares it
with the observation times shown beside it. A file that is missing or not a MaxMind DB is
refused when the enricher is built, naming the setting. Reads the ``enrichment`` section.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import maxminddb

from config.sections.enrichment import EnrichmentSettings
from triage.errors import TriageError


def _open(key: str, path_text: str) -> maxminddb.Reader | None:
    if not path_text:
        return None
    path = Path(path_text).expanduser()
    try:
        return maxminddb.open_database(str(path))
    except FileNotFoundError:
        raise TriageError(f"enrichment.{key}", f"no such file: {str(path)!r}") from None
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as exc:
        raise TriageError(f"enrichment.{key}",
                          f"{str(path)!r} is not a MaxMind DB file ({exc})") from exc


def _built(reader: maxminddb.Reader) -> str:
    epoch = reader.metadata().build_epoch
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def _name(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    names = node.get("names") or {}
    return str(names.get("en") or node.get("iso_code") or "")


class Enricher:
    """Lookups in the configured databases; ``enabled`` is False when none is configured."""

    def __init__(self, settings: EnrichmentSettings):
        self.geo = _open("geoip_db", settings.geoip_db)
        self.asn = _open("asn_db", settings.asn_db)
        self._cache: dict[str, dict[str, Any]] = {}

    @property
    def enabled(self) -> bool:
        return self.geo is not None or self.asn is not None

    def lookup(self, ip: str) -> dict[str, Any]:
        """What the databases say of ``ip`` ({} when none is configured or nothing is known)."""
        if not self.enabled:
            return {}
        if ip in self._cache:
            return self._cache[ip]
        out: dict[str, Any] = {}
        if self.geo is not None:
            record, prefix = self.geo.get_with_prefix_len(ip)
            if isinstance(record, dict):
                country = record.get("country") or record.get("registered_country") or {}
                regions = record.get("subdivisions") or []
                location = record.get("location") or {}
                out.update({
                    "country": (country.get("iso_code") or "") if isinstance(country, dict)
                    else "",
                    "country_name": _name(country),
                    "region": _name(regions[0]) if regions else "",
                    "city": _name(record.get("city")),
                    "time_zone": location.get("time_zone", "") if isinstance(location, dict)
                    else "",
                    "geo_network": str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False)),
                    "geoip_db_built": _built(self.geo),
                })
        if self.asn is not None:
            record, prefix = self.asn.get_with_prefix_len(ip)
            if isinstance(record, dict):
                out.update({
                    "asn": record.get("autonomous_system_number"),
                    "as_org": record.get("autonomous_system_organization", ""),
                    "network": str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False)),
                    "asn_db_built": _built(self.asn),
                })
        self._cache[ip] = out
        return out

    def close(self) -> None:
        for reader in (self.geo, self.asn):
            if reader is not None:
                reader.close()
