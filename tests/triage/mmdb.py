"""Small MaxMind DB files for the enrichment tests, written with ``mmdb-writer``."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

LAB_NET = "127.20.0.0/24"
LAB_NET6 = "fe80::/64"


def city_db(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True,
                        description="lab city database")
    writer.insert_network(IPSet([LAB_NET]), {
        "country": {"iso_code": "NL", "names": {"en": "Netherlands"}},
        "subdivisions": [{"iso_code": "NH", "names": {"en": "North Holland"}}],
        "city": {"names": {"en": "Lab City"}},
        "location": {"time_zone": "Europe/Amsterdam"},
    })
    writer.insert_network(IPSet([LAB_NET6]), {
        "country": {"iso_code": "NZ", "names": {"en": "New Zealand"}},
        "location": {"time_zone": "Pacific/Auckland"},
    })
    writer.to_db_file(str(path))
    return path


def asn_db(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True,
                        description="lab asn database")
    writer.insert_network(IPSet([LAB_NET]), {
        "autonomous_system_number": 64512,
        "autonomous_system_organization": "Lab Network Operator",
    })
    writer.to_db_file(str(path))
    return path
