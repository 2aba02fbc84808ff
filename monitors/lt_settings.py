"""libtorrent ``settings_pack`` builders for the probe's sessions, and the open-file limit.

Nothing may reach outside what is configured: UPnP, NAT-PMP, LSD and the IP notifier are
always off, and the DHT routers are exactly ``probe.dht_bootstrap_nodes``. The pack must go
to the ``lt.session`` constructor: applied later, the session would run for a moment with
libtorrent's defaults (which probe the router with UPnP).

:func:`probe_pack` builds a probe session from the ``probe`` settings (listen interfaces,
routers, DHT defences). :func:`base_settings` is the single-address pack with the DHT
defences off, for sessions that all live on one host (a loopback DHT, where every node
shares 127.0.0.0/8 and the defences would keep one of them). :func:`raise_open_files`
raises the process's open-file limit before a session is built: libtorrent silently lowers
its connection limit to what the limit allows (803 connections under 1,024 files). How the
watcher divides that limit among its torrents is :mod:`monitors.budget`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import libtorrent as lt

from config.sections.probe import ProbeSettings

log = logging.getLogger(__name__)

# Every alert category the probe reads (peer, status, DHT, piece progress, stats, errors).
ALERT_MASK = (
    lt.alert_category.error
    | lt.alert_category.peer
    | lt.alert_category.status
    | lt.alert_category.dht
    | lt.alert_category.dht_operation
    | lt.alert_category.stats
    | lt.alert_category.piece_progress
    | lt.alert_category.block_progress
    | lt.alert_category.tracker
    | lt.alert_category.connect
    | lt.alert_category.ip_block
)
# Files the process needs besides peer sockets (sqlite, logs, DHT and listen sockets).
OWN_FILES = 128


@dataclass(frozen=True)
class DhtDefences:
    """libtorrent's DHT defences against Sybil nodes and invented peers (BEP 42 and IP limits)."""

    restrict_routing_ips: bool = True
    restrict_search_ips: bool = True
    prefer_verified_node_ids: bool = True
    ignore_dark_internet: bool = True

    @classmethod
    def of(cls, settings: ProbeSettings) -> DhtDefences:
        return cls(settings.dht_restrict_routing_ips, settings.dht_restrict_search_ips,
                   settings.dht_prefer_verified_node_ids, settings.dht_ignore_dark_internet)

    def pack(self) -> dict[str, bool]:
        return {"dht_restrict_routing_ips": self.restrict_routing_ips,
                "dht_restrict_search_ips": self.restrict_search_ips,
                "dht_prefer_verified_node_ids": self.prefer_verified_node_ids,
                "dht_ignore_dark_internet": self.ignore_dark_internet}


# All nodes on one host: one node per /24 (the default) would keep just one of them.
ONE_HOST = DhtDefences(False, False, False, False)


def session_pack(listen_interfaces: str, *, dht: bool, bootstrap: list[str],
                 defences: DhtDefences, outgoing: str = "", fingerprint: str | None = None,
                 user_agent: str | None = None) -> dict[str, Any]:
    """A closed settings pack: listens where told, contacts only the given routers."""
    pack: dict[str, Any] = {
        "listen_interfaces": listen_interfaces,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_lsd": False,
        "enable_ip_notifier": False,
        "enable_dht": dht,
        # libtorrent's default is dht.libtorrent.org; an empty string means no router at all.
        "dht_bootstrap_nodes": ",".join(bootstrap),
        **defences.pack(),
        # A taken port must fail loudly, not silently become port+1..+10.
        "max_retry_port_bind": 0,
        "listen_system_port_fallback": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "alert_mask": ALERT_MASK,
        # Losing alerts loses observations; qBittorrent raised this for the same reason.
        "alert_queue_size": 100_000,
    }
    if outgoing:
        # Outgoing connections leave from the listen address, so peers see who we say we are.
        pack["outgoing_interfaces"] = outgoing
    if fingerprint:
        pack["peer_fingerprint"] = fingerprint
    if user_agent:
        pack["user_agent"] = user_agent
        pack["handshake_client_version"] = user_agent
    return pack


def probe_pack(settings: ProbeSettings, *, port: int | None = None, dht: bool) -> dict[str, Any]:
    """A probe session from the ``probe`` settings (``port`` replaces every listen port)."""
    return session_pack(
        settings.interfaces(port), dht=dht, bootstrap=settings.dht_bootstrap_nodes if dht else [],
        defences=DhtDefences.of(settings), outgoing=",".join(sorted(settings.own_ips())),
        user_agent=settings.user_agent or None)


def base_settings(ip: str, port: int, *, dht: bool, bootstrap: list[str],
                  fingerprint: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
    """A pack bound to ``ip:port`` alone (port 0: any free port), DHT defences off.

    For sessions that share one host with the DHT nodes they talk to.
    """
    iface = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    return session_pack(iface, dht=dht, bootstrap=bootstrap, defences=ONE_HOST, outgoing=ip,
                        fingerprint=fingerprint, user_agent=user_agent)


def files_needed(connections: int) -> int:
    """Open files libtorrent needs to keep ``connections`` (it allows 80 % of the limit - 20)."""
    return math.ceil(connections / 0.8) + 20 + OWN_FILES


def raise_open_files(connections: int) -> tuple[int, int]:
    """Raise the soft open-file limit to what ``connections`` need; returns (needed, limit).

    A limit that cannot be raised far enough is logged as a warning naming both numbers:
    libtorrent would otherwise lower the connection limit without a word.
    """
    import resource  # POSIX only; imported here so the pack builders load anywhere

    needed = files_needed(connections)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    if soft != resource.RLIM_INFINITY and soft < needed:
        allowed = max(int((soft - 20 - OWN_FILES) * 0.8), 0)
        log.warning("probe.max_connections = %d needs %d open files, but the limit is %d "
                    "(hard limit %d): libtorrent will keep about %d connections; raise the "
                    "hard limit (ulimit -Hn, LimitNOFILE=) to %d", connections, needed, soft,
                    hard, allowed, needed)
    return needed, soft
