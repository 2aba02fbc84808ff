"""The whole settings tree: every option with a type, a default and a one-line doc."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from config.sections.alerts import AlertSettings, SmtpSettings
from config.sections.analysis import AnalysisSettings
from config.sections.base import Section
from config.sections.console import ConsoleSettings, RetentionSettings
from config.sections.coordination import CoordinationSettings
from config.sections.crawler import CrawlerSettings
from config.sections.enrichment import EnrichmentSettings
from config.sections.evidence import EvidenceSettings
from config.sections.exchange import ExchangeSettings
from config.sections.frontier import FrontierSettings
from config.sections.hunt import HuntSettings
from config.sections.index import ElasticsearchSettings, IndexSettings
from config.sections.matching import MatchingSettings
from config.sections.probe import ProbeSettings
from config.sections.telemetry import LoggingSettings, MetricsSettings
from config.sections.tor import TorSettings
from config.sections.triage import TriageSettings


class Settings(Section):
    data_dir: Path = Field(
        Path("var/heroes"), description="Where this installation keeps its index, spool and logs."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", description="Log level on stderr (heroes -v: at least INFO, -vv: DEBUG)."
    )
    logging: LoggingSettings = Field(
        default_factory=LoggingSettings, description="The log on stderr."
    )
    metrics: MetricsSettings = Field(
        default_factory=MetricsSettings, description="Metrics and health of long-running roles."
    )
    index: IndexSettings = Field(default_factory=IndexSettings, description="The search index.")
    elasticsearch: ElasticsearchSettings = Field(
        default_factory=ElasticsearchSettings, description="The Elasticsearch backend."
    )
    tor: TorSettings = Field(default_factory=TorSettings, description="Tor clients.")
    crawler: CrawlerSettings = Field(
        default_factory=CrawlerSettings, description="The onion crawler."
    )
    frontier: FrontierSettings = Field(
        default_factory=FrontierSettings, description="The crawl frontier (queued URLs)."
    )
    probe: ProbeSettings = Field(default_factory=ProbeSettings, description="The BitTorrent probe.")
    coordination: CoordinationSettings = Field(
        default_factory=CoordinationSettings, description="Several probes splitting the targets."
    )
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
    evidence: EvidenceSettings = Field(
        default_factory=EvidenceSettings, description="Signed, timestamped evidence logs."
    )
    triage: TriageSettings = Field(
        default_factory=TriageSettings, description="Peer triage: the priority score."
    )
    enrichment: EnrichmentSettings = Field(
        default_factory=EnrichmentSettings, description="Offline IP databases for peers."
    )
    analysis: AnalysisSettings = Field(
        default_factory=AnalysisSettings, description="Pivots, clusters and their common values."
    )
    exchange: ExchangeSettings = Field(
        default_factory=ExchangeSettings, description="MISP and STIX exports and imports."
    )
    hunt: HuntSettings = Field(
        default_factory=HuntSettings, description="Retro-hunt: a list or rule over the index."
    )

    @model_validator(mode="after")
    def _frontier_redis(self) -> Settings:
        if self.frontier.backend == "redis" and not self.coordination.redis_url.get_secret_value():
            raise ValueError('frontier.backend = "redis" needs coordination.redis_url')
        return self

    def with_data_dir(self, data_dir: Path) -> Settings:
        return self.model_copy(update={"data_dir": data_dir})
