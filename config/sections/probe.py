"""Settings of the BitTorrent swarm probe (``heroes probe``).

Nothing here can make the probe download content: single-source verification runs only
when an investigator types ``heroes probe verify`` (see docs/probe-visibility.md).
"""

from __future__ import annotations

from pydantic import Field

from config.sections.base import Section


class ProbeSettings(Section):
    probe_id: str = Field(
        "probe-1", min_length=1, pattern=r"^[A-Za-z0-9._-]+$",
        description="Name of this probe in observations and evidence.")
    listen_ip: str = Field("127.0.0.1", description="Address the probe's sessions bind to.")
    listen_port: int = Field(
        0, ge=0, le=65535, description="Port of the watcher session (0: any free port).")
    announce: bool = Field(
        False,
        description="Ask trackers for peers. Every tracker request is an announce that registers "
        "the probe's address in the swarm, so this is off by default (DHT and PEX only).",
    )
    trackers: list[str] = Field(
        default_factory=list,
        description="Trackers asked for peers of every target (when announce is on).")
    dht: bool = Field(True, description="Look up peers in the DHT (read-only, lookup-only).")
    dht_bootstrap_nodes: list[str] = Field(
        default_factory=list,
        description="DHT bootstrap nodes host:port; none by default (no public routers).")
    dht_interval_s: float = Field(
        15.0, gt=0, description="Seconds between DHT lookups of one target.")
    dht_rate_per_s: float = Field(20.0, gt=0, description="DHT lookups per second at most.")
    pex: bool = Field(True, description="Learn peers from peer exchange.")
    max_connections: int = Field(4000, ge=1, description="Peer connections at most.")
    metadata: bool = Field(
        True, description="Fetch torrent metadata (BEP 9) once per target in a separate session.")
    metadata_timeout_s: float = Field(
        30.0, gt=0, description="Give up one metadata attempt after this long.")
    user_agent: str = Field(
        "", description="Client name the probe sends in its handshakes (empty: libtorrent's).")
    peer_poll_s: float = Field(
        1.0, gt=0, description="Seconds between reads of the connected peers.")
    index_refresh_s: float = Field(
        30.0, gt=0, description="Seconds between queries of the index for new targets.")
    observation_refresh_s: float = Field(
        300.0, gt=0,
        description="Re-record a still-connected peer (new last_seen) after this many seconds.")
    min_reconnect_s: int = Field(
        3, ge=1, description="Seconds before redialling a peer that dropped us.")
