"""Settings of the index: which backend, how the spool drains into it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from config.sections.base import Section
from config.sections.elasticsearch import IlmMode, KindsSettings


class IndexSettings(Section):
    backend: Literal["tantivy", "elasticsearch"] = Field(
        "tantivy", description="Search backend: the embedded engine or an Elasticsearch cluster."
    )
    writer_heap_mb: int = Field(
        128, ge=16, le=4096, description="Memory the embedded index writer may use, in MiB."
    )
    batch_size: int = Field(
        1000, ge=1, le=100_000, description="Documents drained from the spool per backend commit."
    )
    batch_age_s: float = Field(
        0.2, gt=0, le=60,
        description="Longest a spooled document waits before a partial batch is written, in "
        "seconds (larger: bigger batches, later hash-hit alerts).",
    )
    reader_reload_s: float = Field(
        0.5, gt=0, le=10,
        description="How often a read-only searcher looks for new commits, in seconds.",
    )
    max_document_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024,
        description="Largest document an input file may hold (one JSON line of `index ingest`, "
        "one line or VICS entry of `hashes import`); larger ones are reported and skipped.",
    )


class ElasticsearchSettings(Section):
    hosts: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:9200"], description="Elasticsearch node URLs."
    )
    username: str = Field(
        "", description="Basic-auth user; the password comes from HEROES_ELASTICSEARCH__PASSWORD."
    )
    password: SecretStr = Field(
        SecretStr(""), description="Basic-auth password (environment only)."
    )
    api_key: SecretStr = Field(
        SecretStr(""), description="API key (environment only: HEROES_ELASTICSEARCH__API_KEY)."
    )
    ca_certs: str = Field("", description="CA bundle used to verify the cluster's TLS certificate.")
    verify_certs: bool = Field(True, description="Verify the cluster's TLS certificate.")
    index_prefix: str = Field(
        "heroes", pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Prefix of every index, alias and template name.",
    )
    shards: int = Field(1, ge=1, le=64, description="Primary shards per new index.")
    replicas: int = Field(0, ge=0, le=8, description="Replicas per new index.")
    refresh_interval: str = Field(
        "", pattern=r"^(|-1|[1-9][0-9]*(ms|s|m))$",
        description="index.refresh_interval of new indices: how soon a write shows in searches "
        "(\"\": the cluster's default, 1s; \"30s\" for heavy ingest; \"-1\": never by itself). "
        "Bulk writes do not force a refresh.",
    )
    write_refresh: Literal["false", "wait_for", "true"] = Field(
        "false",
        description="What a bulk write waits for: \"false\" nothing (searches see it after "
        "refresh_interval; reads by id see it at once); \"wait_for\" until its documents are "
        "searchable, for a caller that searches what it just wrote (the test suite); \"true\" "
        "forces a refresh per bulk (costly on a busy cluster).",
    )
    ilm: IlmMode = Field(
        "auto",
        description="Index lifecycle management of the monthly page indices: \"auto\" installs "
        "a policy deleting an index [retention] page_days after its month ends when the "
        "cluster has ILM, and otherwise logs that `heroes index purge` does it; \"on\" "
        "requires ILM; \"off\" leaves retention to `heroes index purge`.",
    )
    kinds: KindsSettings = Field(
        default_factory=KindsSettings,
        description="Shards and replicas per document kind, over elasticsearch.shards/replicas.",
    )
    request_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Timeout of one request to the cluster."
    )
    max_retries: int = Field(
        3, ge=0, le=20,
        description="Retries of one request on connection errors, timeouts and 429/502/503/504.",
    )
    bulk_chunk_size: int = Field(500, ge=1, le=10_000, description="Documents per bulk request.")
    bulk_max_retries: int = Field(
        5, ge=0, le=50,
        description="Retries of a document the cluster answered 429 or 5xx for, before the "
        "batch is left in the spool for later.",
    )
    retry_initial_backoff_s: float = Field(
        1.0, gt=0, le=60,
        description="First wait before retrying a document or request; doubles each time.",
    )
    retry_max_backoff_s: float = Field(
        30.0, gt=0, le=600, description="Longest wait between two retries."
    )

    @model_validator(mode="after")
    def _refresh_reaches_writes(self) -> ElasticsearchSettings:
        if self.write_refresh == "wait_for" and self.refresh_interval == "-1":
            raise ValueError(
                "elasticsearch.write_refresh = \"wait_for\" with refresh_interval = \"-1\": "
                "writes would wait for a refresh that never comes (their documents would never "
                "be searchable by themselves); set a refresh_interval or write_refresh = "
                "\"false\"")
        return self
