"""Offline enrichment from MaxMind DB files built for the test; none configured, none read."""

from __future__ import annotations

from pathlib import Path

import maxminddb
import pytest

from config import ConfigError, Settings, load_settings
from config.sections.enrichment import EnrichmentSettings
from tests.triage import mmdb
from tests.triage import peer_data as pd
from triage.enrichment import Enricher
from triage.errors import TriageError
from triage.ranking import Scope
from triage.service import Triage


def test_lookup_country_region_asn(tmp_path: Path) -> None:
    enricher = Enricher(EnrichmentSettings(geoip_db=str(mmdb.city_db(tmp_path / "c.mmdb")),
                                           asn_db=str(mmdb.asn_db(tmp_path / "a.mmdb"))))
    try:
        got = enricher.lookup(pd.TOP)
        assert (got["country"], got["region"], got["time_zone"]) == (
            "NL", "North Holland", "Europe/Amsterdam")
        assert got["asn"] == 64512 and got["as_org"] == "Lab Network Operator"
        assert got["network"] == mmdb.LAB_NET and got["geoip_db_built"]
        assert enricher.lookup(pd.V6_A)["country"] == "NZ"
        assert enricher.lookup("127.99.0.1") == {}
    finally:
        enricher.close()


def test_not_configured_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a database was opened although none is configured")

    monkeypatch.setattr(maxminddb, "open_database", refuse)
    enricher = Enricher(EnrichmentSettings())
    assert not enricher.enabled and enricher.lookup(pd.TOP) == {}


@pytest.mark.parametrize("key", ["geoip_db", "asn_db"])
def test_a_file_that_is_not_a_maxmind_db_is_refused_naming_the_key(tmp_path: Path,
                                                                   key: str) -> None:
    bad = tmp_path / "notes.mmdb"
    bad.write_text("tea, coffee, lamps\n" * 50)
    with pytest.raises(ConfigError) as refused:
        load_settings(None, environ={}, overrides={"enrichment": {key: str(bad)}})
    assert f"enrichment.{key}" in str(refused.value) and "not a MaxMind DB" in str(refused.value)
    # Past the settings (a file replaced after start), the enricher refuses it too.
    with pytest.raises(TriageError) as err:
        Enricher(EnrichmentSettings.model_construct(**{key: str(bad)}))
    assert err.value.param == f"enrichment.{key}" and "not a MaxMind DB" in str(err.value)
    with pytest.raises(TriageError, match=f"enrichment.{key}: no such file"):
        Enricher(EnrichmentSettings.model_construct(**{key: str(tmp_path / "missing.mmdb")}))


async def test_peer_shows_location_and_local_hours(backend: object, triage_settings: Settings,
                                                   tmp_path: Path) -> None:
    settings = EnrichmentSettings(geoip_db=str(mmdb.city_db(tmp_path / "c.mmdb")),
                                  asn_db=str(mmdb.asn_db(tmp_path / "a.mmdb")))
    triage = Triage(backend, triage_settings.triage, settings,  # type: ignore[arg-type]
                    Path(triage_settings.data_dir))
    try:
        data = await triage.peer(pd.TOP, Scope(), pd.NOW)
        assert data["location"]["country"] == "NL" and data["location"]["asn"] == 64512
        assert data["time_zone"] == "Europe/Amsterdam"
        # Amsterdam is UTC+1 in November: every sighting shifts by one hour.
        assert data["hours_local"] == data["hours_utc"][-1:] + data["hours_utc"][:-1]
        rows = await triage.rows(Scope(), pd.NOW)
        assert rows[0]["location"]["country"] == "NL"
    finally:
        triage.close()
