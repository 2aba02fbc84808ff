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
        description="SOCKS ports of the attached clients, in the order of control_ports.",
    )
    control_password: SecretStr = Field(
        SecretStr(""),
        description="Control-port password (environment only); cookie auth is used when empty.",
    )
    bootstrap_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="Longest wait for a client to bootstrap."
    )
    newnym_after_failures: int = Field(
        3, ge=1, le=100, description="Consecutive circuit failures after which NEWNYM is signalled."
    )
    extra_torrc: list[str] = Field(
        default_factory=list,
        description="Extra torrc lines for launched clients (a private network's DirAuthority...).",
    )
