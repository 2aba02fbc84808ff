"""The demo's settings file and its lab hash lists, derived from a running lab world.

Pure functions: :func:`config_text` renders the TOML the demo writes to
``<data_dir>/demo.toml`` (the lab Tor client in attach mode, the probe pointed at the lab
swarm, SMTP to the lab sink with STARTTLS, three alert rules); :func:`hash_lists` picks the
values of the lab's hash lists (the swarm's infohashes, the sites' flagged media, one
wallet planted on several services) from the world's info and ground truth.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

RECIPIENT = "duty-analyst@unit.example"
SWARM_LIST = "lab-swarm"
MEDIA_LIST = "lab-media"
WALLET_LIST = "lab-wallets"
TURNED_LIST = "lab-turned"
VIDEO_LIST = "lab-videos"
PROBE_IP = "127.0.0.9"


@dataclass(frozen=True)
class HashList:
    name: str
    type: str
    category: str
    values: tuple[str, ...]
    settings: tuple[tuple[str, str], ...] = ()  # list settings: ("kind", "negative"), ...

    def text(self) -> str:
        """The list as a plain one-value-per-line file, its settings as ``#!`` lines."""
        header = f"# {self.name}: {self.type} values of the lab world\n"
        settings = "".join(f"#! {name}: {value}\n" for name, value in self.settings)
        return header + settings + "".join(f"{v}\n" for v in self.values)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    # A JSON string is a valid TOML basic string for the text used here.
    return json.dumps(str(value))


def _table(name: str, values: dict[str, Any], array: bool = False) -> list[str]:
    head = f"[[{name}]]" if array else f"[{name}]"
    return [head, *(f"{k} = {_toml(v)}" for k, v in values.items()), ""]


def alert_rules() -> list[dict[str, Any]]:
    """The demo's rules: a flagged peer, a page with flagged media or magnet, a wallet."""
    common = {"recipients": [RECIPIENT], "realert_s": 3600.0}
    return [
        {"name": "flagged-peer", "type": "hit", "severity": "critical",
         "kinds": ["observation"], "lists": [SWARM_LIST], "key": ["infohash", "ip"], **common},
        {"name": "flagged-page", "type": "hit", "severity": "high", "kinds": ["page"],
         "lists": [SWARM_LIST, MEDIA_LIST, TURNED_LIST, VIDEO_LIST], "key": ["host"], **common},
        {"name": "wallet-new-host", "type": "new_term", "severity": "medium",
         "kinds": ["page"], "lists": [WALLET_LIST], "field": "host", **common},
    ]


def config_text(world: dict[str, Any], smtp_port: int, ca_cert: str, log_level: str) -> str:
    """The demo settings for this lab world and this data directory only."""
    swarm = world["swarm"]
    lines = [
        "# Written by `heroes demo` for its lab world; meaningless elsewhere.",
        f"log_level = {_toml(log_level)}",
        "",
    ]
    lines += _table("tor", {
        "mode": "attach",
        "control_ports": [world["control"]["port"]],
        "socks_ports": [world["socks"]["port"]],
        "bootstrap_timeout_s": 60.0,
    })
    # The lab sites are small; short timeouts keep dead onions from holding the crawl up.
    lines += _table("crawler", {"connect_timeout_s": 20.0, "read_timeout_s": 30.0})
    lines += _table("probe", {
        "probe_id": "demo-probe",
        "listen_ip": PROBE_IP,
        # Announcing makes the probe visible to the swarm; in the lab that is harmless.
        "announce": True,
        "trackers": swarm["trackers"],
        "dht_bootstrap_nodes": [swarm["dht_bootstrap"]],
        # Every lab DHT node shares 127.0.0.0/8: the real-network defences would keep one.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "dht_revisit_s": 2.0,
        "peer_poll_s": 0.25,
        "index_refresh_s": 2.0,
        "metadata_timeout_s": 20.0,
    })
    lines += _table("smtp", {
        "host": "127.0.0.1",
        "port": smtp_port,
        "tls": "starttls",
        "ca_certs": ca_cert,
        "sender": "heroes-demo@lab.localhost",
        "timeout_s": 10.0,
        "retry_initial_s": 0.5,
        "retry_max_s": 5.0,
        "poll_s": 0.2,
    })
    lines += _table("alerts", {"console_url": "http://127.0.0.1:8080"})
    for rule in alert_rules():
        lines += _table("alerts.rules", rule, array=True)
    return "\n".join(lines)


def wallet_on_most_hosts(truth: dict[str, Any]) -> str | None:
    """The reachable Bitcoin address planted on the most services (ties: the smallest)."""
    hosts: dict[str, set[str]] = {}
    for page in truth["pages"].values():
        if page.get("reachable"):
            for value in page["entities"].get("btc", []):
                hosts.setdefault(value, set()).add(page["service"])
    if not hosts:
        return None
    counts = Counter({v: len(h) for v, h in hosts.items()})
    best = max(counts.values())
    return min(v for v, n in counts.items() if n == best)


def hash_lists(world: dict[str, Any], truth: dict[str, Any]) -> list[HashList]:
    """The lab's flagged values: swarm infohashes, flagged media sha256, one wallet."""
    lists = [
        HashList(SWARM_LIST, "infohash", "lab-torrent",
                 tuple(t["v1"] for t in world["swarm"]["torrents"] if t.get("v1"))),
        HashList(MEDIA_LIST, "sha256", "lab-image",
                 tuple(sorted({m["sha256"] for m in truth["flagged_media"]}))),
    ]
    wallet = wallet_on_most_hosts(truth)
    if wallet:
        lists.append(HashList(WALLET_LIST, "btc", "lab-wallet", (wallet,)))
    return lists
