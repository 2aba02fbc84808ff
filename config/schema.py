"""The whole settings tree: every option with a type, a default and a one-line doc."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from config.sections.alerts import AlertSettings, SmtpSettings
from config.sections.base import Section
from config.sections.console import ConsoleSettings, RetentionSettings
from config.sections.crawler import CrawlerSettings
from config.sections.index import ElasticsearchSettings, IndexSettings
from config.sections.matching import MatchingSettings
from config.sections.probe import ProbeSettings
from config.sections.tor import TorSettings


class Settings(Section):
    data_dir: Path = Field(
        Path("var/heroes"), description="Where this installation keeps its index, spool and logs."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    index: IndexSettings = Field(default_factory=IndexSettings, description="The search index.")
    elasticsearch: ElasticsearchSettings = Field(
        default_factory=ElasticsearchSettings, description="The Elasticsearch backend."
    )
    tor: TorSettings = Field(default_factory=TorSettings, description="Tor clients.")
    crawler: CrawlerSettings = Field(
        default_factory=CrawlerSettings, description="The onion crawler."
    )
    probe: ProbeSettings = Field(default_factory=ProbeSettings, description="The BitTorrent probe.")
    matching: MatchingSettings = Field(
        default_factory=MatchingSettings, description="Flagged-value matching."
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert rules.")
    smtp: SmtpSettings = Field(default_factory=SmtpSettings, description="Alert email delivery.")
    console: ConsoleSettings = Field(
        default_factory=ConsoleSettings, description="The analyst console."
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long data is kept."
    )

    def with_data_dir(self, data_dir: Path) -> Settings:
        return self.model_copy(update={"data_dir": data_dir})
