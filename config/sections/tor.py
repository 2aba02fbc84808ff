"""Settings of the Tor client(s) the crawler goes through."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from config.sections.base import Section


class TorSettings(Section):
    mode: Literal["launch", "attach"] = Field(
        "launch",
        description="Launch a dedicated tor per client, or attach to running ones by control port.",
    )
    binary: str = Field("tor", description="The tor executable used in launch mode.")
    clients: int = Field(
        1, ge=1, le=64, description="Tor clients to spread onions over (each onion sticks to one)."
    )
    control_ports: list[int] = Field(
        default_factory=list,
        description="Control ports to attach to (attach mode), one per client.",
    )
    socks_ports: list[int] = Field(
        default_factory=list,
        description="SOCKS ports of the attached clients, in the order of control_ports (give "
        "them the ExtendedErrors flag: it tells a dead onion from a broken circuit).",
    )
    control_password: SecretStr = Field(
        SecretStr(""),
        description="Control-port password (environment only); cookie auth is used when empty.",
    )
    bootstrap_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="Longest wait for a client to bootstrap."
    )
    newnym_after_failures: int = Field(
        3,
        ge=1,
        le=100,
        description="Consecutive circuit failures on one client after which NEWNYM is signalled "
        "(a dead or down onion, SOCKS 0xF0-0xF7, never counts).",
    )
    newnym_min_interval_s: float = Field(
        60.0,
        ge=10,
        le=86400,
        description="Seconds between two NEWNYMs on one client at least (Tor delays any "
        "within 10 s); each purges every onion's circuits and descriptors on that client.",
    )
    extra_torrc: list[str] = Field(
        default_factory=list,
        description="Extra torrc lines for launched clients (a private network's DirAuthority...).",
    )
