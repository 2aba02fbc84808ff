"""Settings of the BitTorrent swarm probe (``heroes probe``) and of DHT discovery.

The defaults are those of a deployment on the real network: the public DHT routers, every
interface in IPv4 and IPv6, and libtorrent's DHT defences against Sybil nodes and invented
peers switched on. A closed lab (all nodes on 127.0.0.x) sets its own addresses and turns
the defences off in its own config file. docs/probe-deployment.md says what a unit sets.

Nothing here can make the probe download content: single-source verification runs only
when an investigator types ``heroes probe verify`` (see docs/probe-visibility.md).
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator

from config.sections.base import Section

PUBLIC_ROUTERS = [
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
    "dht.libtorrent.org:25401",
]
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_DEVICE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_SHARD = re.compile(r"^(\d+)/(\d+)$")


def split_endpoint(text: str) -> tuple[str, str]:
    """``host:port`` or ``[v6]:port`` into (host, port text); ValueError naming the value."""
    value = text.strip()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"{text!r}: an IPv6 address goes in brackets, then :port")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
        return host, rest[1:]
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r}: expected host:port")
    if ":" in host:
        raise ValueError(f"{text!r}: an IPv6 address goes in brackets, e.g. [{host}]:{port}")
    return host, port


def _port(text: str, whole: str, low: int) -> int:
    if not text.isdigit() or not low <= int(text) <= 65535:
        raise ValueError(f"{whole!r}: port must be {low}-65535 (got {text!r})")
    return int(text)


def parse_node(text: str) -> tuple[str, int]:
    """A DHT node ``host:port`` (host name, IPv4 or bracketed IPv6)."""
    host, port = split_endpoint(text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise ValueError(f"{text!r}: {host!r} is not a host name or IP address") from None
    return host, _port(port, text, 1)


def parse_interfaces(text: str) -> list[tuple[str, int, str]]:
    """libtorrent's ``listen_interfaces``: ``addr:port[s|l]`` items, comma-separated.

    ``addr`` is an IPv4 address, a bracketed IPv6 address or a device name; the suffix ``s``
    marks an SSL listener, ``l`` a local-only one. Returns (addr, port, suffix) per item.
    """
    items = [i.strip() for i in text.split(",")]
    if not text.strip() or any(not i for i in items):
        raise ValueError(f"{text!r}: expected addr:port items separated by commas")
    out = []
    for item in items:
        host, port = split_endpoint(item)
        suffix = port.lstrip("0123456789")
        if suffix.strip("sl") or len(suffix) > 2:
            raise ValueError(f"{item!r}: unknown suffix {suffix!r} (only s and l)")
        number = _port(port[: len(port) - len(suffix)], item, 0)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _DEVICE.match(host):
                raise ValueError(
                    f"{item!r}: {host!r} is neither an IP address nor a device name") from None
        out.append((host, number, suffix))
    return out


def format_interface(host: str, port: int, suffix: str = "") -> str:
    return f"[{host}]:{port}{suffix}" if ":" in host else f"{host}:{port}{suffix}"


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (1 <= I <= N): this probe watches the I-th of N parts of the targets."""
    m = _SHARD.match(text.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"{text!r}: expected I/N with 1 <= I <= N, e.g. \"1/3\"")
    return int(m.group(1)), int(m.group(2))


class DiscoverySettings(Section):
    """``heroes probe discover``: BEP 51 sampling of the DHT for infohashes nobody flagged."""

    listen_interfaces: str = Field(
        "0.0.0.0:0,[::]:0", description="Where the sampler's DHT node listens (libtorrent "
        "syntax). It is read-only: it stores and answers nothing.")
    rate_per_s: float = Field(
        50.0, gt=0, description="sample_infohashes queries per second at most.")
    node_gap_s: float = Field(
        1.0, ge=0.2, description="Seconds at least between two queries to one node (libtorrent "
        "nodes block an address sending them more than 5 packets per second).")
    query_timeout_s: float = Field(
        3.0, gt=0, description="A query without an answer after this long counts as a miss; two "
        "misses drop the node.")
    metadata_batch: int = Field(
        20, ge=1, description="Metadata fetches run at once (each takes about one second).")
    filter_capacity: int = Field(
        10_000_000, ge=1000, description="Infohashes the seen-filter holds at a 0.1 % false "
        "positive rate (about 18 MB for ten million); past that it starts afresh and the index "
        "stays the authority on what is known.")
    scrape: bool = Field(
        True, description="Ask DHT nodes for a BEP 33 scrape of each fetched torrent (an "
        "estimate of its seeds and peers, where the nodes support it).")

    @field_validator("listen_interfaces")
    @classmethod
    def _interfaces(cls, value: str) -> str:
        parse_interfaces(value)
        return value.strip()


class ProbeSettings(Section):
    probe_id: str = Field(
        "probe-1", min_length=1, pattern=r"^[A-Za-z0-9._-]+$",
        description="Name of this probe in observations and evidence (unique per probe).")
    listen_interfaces: str = Field(
        "0.0.0.0:6881,[::]:6881",
        description="Where the watcher listens, in libtorrent's syntax: addr:port items, "
        "comma-separated, IPv6 in brackets (e.g. \"0.0.0.0:6881,[::]:6881\"). Every listen "
        "socket also runs a DHT node. The metadata session uses the same addresses, port 0.")
    listen_ip: str = Field(
        "", description="Shorthand for one address (IPv4 or IPv6): when set, the probe listens "
        "only on listen_ip:listen_port and listen_interfaces is not used.")
    listen_port: int = Field(
        0, ge=0, le=65535, description="Port with listen_ip (0: any free port).")
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
        default_factory=lambda: list(PUBLIC_ROUTERS),
        description="DHT bootstrap routers host:port (the public mainline routers by default).")
    dht_restrict_routing_ips: bool = Field(
        True, description="DHT routing table: at most one node per IP (per /24 in IPv4), "
        "against Sybil nodes. Off only in a lab whose nodes share one host.")
    dht_restrict_search_ips: bool = Field(
        True, description="DHT lookups: at most one reply per IP/24, so one host cannot flood a "
        "lookup with invented peers. Off only in a lab whose nodes share one host.")
    dht_prefer_verified_node_ids: bool = Field(
        True, description="Prefer DHT nodes whose id matches their IP (BEP 42).")
    dht_ignore_dark_internet: bool = Field(
        True, description="Ignore DHT nodes in unroutable address ranges.")
    dht_revisit_s: float = Field(
        900.0, gt=0, description="Look each target up in the DHT again after this many seconds "
        "(as far as dht_rate_per_s allows; the probe warns when it cannot keep up).")
    dht_rate_per_s: float = Field(
        120.0, gt=0, description="DHT lookups per second at most (a v2-only or hybrid target "
        "costs two). 100,000 v1 targets every 900 s need 112 per second.")
    pex: bool = Field(True, description="Learn peers from peer exchange.")
    max_connections: int = Field(
        4000, ge=1, description="Peer connections at most; the open-file limit is raised to "
        "what this needs (a warning says so when it cannot be).")
    max_peers_in_memory: int = Field(
        200_000, ge=1000, description="Peers whose observation state is kept in memory; the "
        "least recently seen beyond this are dropped from memory (their records are on disk).")
    shard: str = Field(
        "", description="\"I/N\": watch only the I-th of N parts of the targets (a stable hash "
        "of the infohash), for several probes without a coordinator. Empty: every target. "
        "Not used when [coordination] redis_url is set.")
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
    discovery: DiscoverySettings = Field(
        default_factory=DiscoverySettings, description="``heroes probe discover`` (BEP 51).")

    @field_validator("listen_interfaces")
    @classmethod
    def _interfaces(cls, value: str) -> str:
        parse_interfaces(value)
        return value.strip()

    @field_validator("listen_ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        if value:
            try:
                return str(ipaddress.ip_address(value.strip().strip("[]")))
            except ValueError:
                raise ValueError(f"not an IP address: {value!r}") from None
        return value

    @field_validator("dht_bootstrap_nodes")
    @classmethod
    def _nodes(cls, value: list[str]) -> list[str]:
        for node in value:
            parse_node(node)
        return [n.strip() for n in value]

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str) -> str:
        if value.strip():
            parse_shard(value)
        return value.strip()

    def interfaces(self, port: int | None = None) -> str:
        """The listen interfaces in effect (every port replaced by ``port`` when given)."""
        items = ([(self.listen_ip, self.listen_port, "")] if self.listen_ip
                 else parse_interfaces(self.listen_interfaces))
        return ",".join(format_interface(h, p if port is None else port, s) for h, p, s in items)

    def own_ips(self) -> frozenset[str]:
        """The probe's own concrete addresses (wildcards and devices left out)."""
        out = set()
        for host, _, _ in parse_interfaces(self.interfaces()):
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                continue
            if not ip.is_unspecified:
                out.add(str(ip))
        return frozenset(out)

    def shard_part(self) -> tuple[int, int] | None:
        return parse_shard(self.shard) if self.shard else None

