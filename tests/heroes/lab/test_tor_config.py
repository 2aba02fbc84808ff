"""torrc rendering of the lab network: every role gets the fast-voting, loopback-only settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from heroes.lab.tor_config import Ports, client_torrc_lines, dirauthority_lines, render


def test_ports_are_derived_from_one_base() -> None:
    ports = Ports(20000)
    assert (ports.authority_or(2), ports.authority_dir(0), ports.client_socks) == (
        20002,
        20100,
        20300,
    )
    assert (
        len({ports.relay_or(i) for i in range(4)} | {ports.authority_or(i) for i in range(3)}) == 7
    )


def test_roles() -> None:
    auths = dirauthority_lines(Ports(17000), ["A" * 40] * 3, ["B" * 40] * 3)
    assert auths[1].startswith("DirAuthority auth1 orport=17001 no-v2 v3ident=")
    common = {"nick": "n", "datadir": Path("/d"), "control_port": 1, "dirauthorities": auths}
    authority = render("authority", or_port=2, dir_port=3, **common)
    assert "AssumeReachable 1" in authority and "V3AuthVotingInterval 10" in authority
    assert "ExitRelay 0" in authority and "UseDefaultFallbackDirs 0" in authority
    client = render("client", socks_port=4, **common)
    assert "SocksPort 127.0.0.1:4 ExtendedErrors IsolateSOCKSAuth" in client
    assert "ORPort" not in client
    onion = render("onion", services=[("forum", 5)], **common)
    assert "HiddenServiceDir /d/hs_forum\nHiddenServicePort 80 127.0.0.1:5" in onion
    with pytest.raises(ValueError, match="unknown tor role 'exit'"):
        render("exit", **common)
    extra = client_torrc_lines(auths)
    assert "TestingTorNetwork 1" in extra and auths[0] in extra
    assert not [line for line in extra if line.startswith(("ControlPort", "DataDirectory"))]
