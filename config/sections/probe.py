"""Settings of the BitTorrent swarm probe."""

from __future__ import annotations

from pydantic import Field

from config.sections.base import Section


class ProbeSettings(Section):
    probe_id: str = Field("probe-1", min_length=1, description="Name of this probe in observations and evidence.")
    listen_ip: str = Field("127.0.0.1", description="Address the probe's sessions bind to.")
    listen_port: int = Field(0, ge=0, le=65535, description="Port of the watcher session (0: any free port).")
    announce: bool = Field(
        False, description="Announce the probe's own address to trackers (makes it visible to the swarm)."
    )
    trackers: list[str] = Field(default_factory=list, description="Trackers asked for peers of every target.")
    dht: bool = Field(True, description="Look up peers in the DHT (read-only, lookup-only).")
    dht_bootstrap_nodes: list[str] = Field(
        default_factory=list, description="DHT bootstrap nodes host:port; none by default (no public routers)."
    )
    dht_interval_s: float = Field(15.0, gt=0, description="Seconds between DHT lookups of one target.")
    dht_rate_per_s: float = Field(20.0, gt=0, description="DHT lookups per second at most.")
    pex: bool = Field(True, description="Learn peers from peer exchange.")
    max_connections: int = Field(4000, ge=1, description="Peer connections at most.")
    metadata: bool = Field(True, description="Fetch torrent metadata (BEP 9) once per target in a separate session.")
