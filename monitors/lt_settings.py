"""libtorrent ``settings_pack`` builders shared by the probe's sessions and the lab swarm.

Everything that could reach outside the configured addresses is off: UPnP, NAT-PMP, LSD,
the IP notifier and the default DHT routers. The pack must go to the ``lt.session``
constructor: applied later, the session would run for a moment with libtorrent's defaults
(which contact public DHT routers and probe the router with UPnP).
"""

from __future__ import annotations

from typing import Any

import libtorrent as lt

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


def base_settings(ip: str, port: int, *, dht: bool, bootstrap: list[str],
                  fingerprint: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
    """A closed-world settings pack bound to ``ip:port`` (port 0: any free port)."""
    pack: dict[str, Any] = {
        "listen_interfaces": f"{ip}:{port}",
        # Outgoing connections leave from the same address, so peers see who we say we are.
        "outgoing_interfaces": ip,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_lsd": False,
        "enable_ip_notifier": False,
        "enable_dht": dht,
        # The default is dht.libtorrent.org; an empty string means no router at all.
        "dht_bootstrap_nodes": ",".join(bootstrap),
        # One node per /24 (libtorrent's default) would keep just one 127.0.0.x in a lab DHT.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "alert_mask": ALERT_MASK,
        # Losing alerts loses observations; qBittorrent raised this for the same reason.
        "alert_queue_size": 100_000,
    }
    if fingerprint:
        pack["peer_fingerprint"] = fingerprint
    if user_agent:
        pack["user_agent"] = user_agent
        pack["handshake_client_version"] = user_agent
    return pack
