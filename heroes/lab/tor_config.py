"""torrc files and keys of the lab's private Tor network (127.0.0.1 only, no exit relays).

The voting schedule is shortened (first consensus about 10 s after launch instead of
minutes) and relays publish at once (``AssumeReachable``): those two choices make the
network usable within ~15 s. Keys are generated once into the lab directory and reused, so
authority identities and onion addresses stay the same between runs. Reads no settings: the
lab directory and base port come from the caller.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

AUTHORITIES = 3
RELAYS = 4
KEY_PASSPHRASE = b"heroes-lab\n"

_COMMON = """\
TestingTorNetwork 1
DataDirectory {datadir}
Nickname {nick}
ContactInfo lab-{nick}@test.invalid
PidFile {datadir}/pid
Log notice file {datadir}/notice.log
SafeLogging 0
LogTimeGranularity 1
ShutdownWaitLength 0
ControlPort 127.0.0.1:{control_port}
CookieAuthentication 1
PathsNeededToBuildCircuits 0.67
TestingDirAuthVoteGuard *
TestingDirAuthVoteHSDir *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
# Never contact the public network's fallback directories.
UseDefaultFallbackDirs 0
ClientUseIPv6 0
{dirauthorities}
"""

_RELAY = """\
SocksPort 0
ORPort 127.0.0.1:{or_port}
Address 127.0.0.1
AddressDisableIPv6 1
ExitRelay 0
ExitPolicy reject *:*
# Publish the descriptor at once instead of waiting for a reachability self-test.
AssumeReachable 1
# Non-exit relays need no DNS; make sure they never try.
ServerDNSDetectHijacking 0
ServerDNSTestAddresses
ServerDNSResolvConfFile /dev/null
"""

_AUTHORITY = """\
DirPort 127.0.0.1:{dir_port}
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 5
TestingV3AuthInitialVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthVotingInterval 10
V3AuthVoteDelay 2
V3AuthDistDelay 2
"""

_ONION_HOST = """\
SocksPort 0
ReachableAddresses 127.0.0.0/8
"""

_CLIENT = """\
SocksPort 127.0.0.1:{socks_port} ExtendedErrors IsolateSOCKSAuth
ReachableAddresses 127.0.0.0/8
"""


class LabSetupError(RuntimeError):
    """The lab network could not be prepared or did not come up; the message says where."""


@dataclass(frozen=True)
class Ports:
    """Every port of the network, derived from one base so that two labs never collide."""

    base: int

    def authority_or(self, i: int) -> int:
        return self.base + i

    def authority_dir(self, i: int) -> int:
        return self.base + 100 + i

    def authority_control(self, i: int) -> int:
        return self.base + 200 + i

    def relay_or(self, i: int) -> int:
        return self.base + 10 + i

    def relay_control(self, i: int) -> int:
        return self.base + 210 + i

    @property
    def onion_control(self) -> int:
        return self.base + 220

    @property
    def client_control(self) -> int:
        return self.base + 230

    @property
    def client_socks(self) -> int:
        return self.base + 300

    def web(self, i: int) -> int:
        return self.base + 400 + i

    @property
    def canary(self) -> int:
        return self.base + 500

    @property
    def smtp(self) -> int:
        return self.base + 515

    @property
    def tsa(self) -> int:
        return self.base + 516


def _run(argv: list[str], stdin: bytes = b"", what: str = "") -> str:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabSetupError(f"{what or argv[0]}: cannot run {argv[0]!r}: {exc}") from exc
    if done.returncode != 0:
        raise LabSetupError(
            f"{what or argv[0]}: {argv[0]} exited with {done.returncode}: "
            f"{done.stderr.decode(errors='replace').strip()[-500:]}"
        )
    return done.stdout.decode(errors="replace")


def empty_torrc(lab_dir: Path) -> Path:
    # tor refuses /dev/null as a torrc; an empty regular file also keeps /etc/tor/torrc out.
    path = lab_dir / "empty.torrc"
    if not path.exists():
        path.write_text("")
    return path


def authority_v3ident(keys_dir: Path, dir_port: int) -> str:
    """Create (once) the authority's identity key and certificate; returns its v3 fingerprint."""
    cert = keys_dir / "authority_certificate"
    marker = keys_dir / "dir_port"
    if not cert.exists() or not marker.exists() or marker.read_text().strip() != str(dir_port):
        keys_dir.mkdir(parents=True, exist_ok=True)
        for name in ("authority_identity_key", "authority_signing_key", "authority_certificate"):
            (keys_dir / name).unlink(missing_ok=True)
        _run(
            [
                "tor-gencert",
                "--create-identity-key",
                "--passphrase-fd",
                "0",
                "-i",
                str(keys_dir / "authority_identity_key"),
                "-s",
                str(keys_dir / "authority_signing_key"),
                "-c",
                str(cert),
                "-m",
                "24",
                "-a",
                f"127.0.0.1:{dir_port}",
            ],
            stdin=KEY_PASSPHRASE,
            what=f"tor-gencert in {keys_dir}",
        )
        marker.write_text(str(dir_port))
    match = re.search(r"^fingerprint ([0-9A-F]{40})$", cert.read_text(), re.MULTILINE)
    if match is None:
        raise LabSetupError(f"{cert}: no 'fingerprint' line in the authority certificate")
    return match.group(1)


def relay_fingerprint(tor: str, datadir: Path, lab_dir: Path) -> str:
    """The relay's RSA identity fingerprint (the key is created once in ``datadir/keys``)."""
    datadir.mkdir(parents=True, exist_ok=True)
    datadir.chmod(0o700)
    empty = empty_torrc(lab_dir)
    # An empty torrc: the testing torrc would need the DirAuthority lines we are computing.
    out = _run(
        [
            tor,
            "--defaults-torrc",
            str(empty),
            "-f",
            str(empty),
            "--orport",
            "1",
            "--datadirectory",
            str(datadir),
            "--list-fingerprint",
            "--quiet",
        ],
        what=f"tor --list-fingerprint in {datadir}",
    )
    parts = out.strip().splitlines()[-1].split()
    fingerprint = "".join(parts[1:])
    if not re.fullmatch(r"[0-9A-F]{40}", fingerprint):
        raise LabSetupError(f"{datadir}: unexpected --list-fingerprint output {out.strip()!r}")
    return fingerprint


def dirauthority_lines(ports: Ports, v3idents: list[str], fingerprints: list[str]) -> list[str]:
    return [
        f"DirAuthority auth{i} orport={ports.authority_or(i)} no-v2 v3ident={v3idents[i]} "
        f"127.0.0.1:{ports.authority_dir(i)} {fingerprints[i]}"
        for i in range(len(v3idents))
    ]


def render(
    role: str,
    *,
    nick: str,
    datadir: Path,
    control_port: int,
    dirauthorities: list[str],
    or_port: int = 0,
    dir_port: int = 0,
    socks_port: int = 0,
    services: list[tuple[str, int]] = (),
) -> str:
    """The torrc of one instance: the common part plus the part for its role."""
    values = {
        "datadir": datadir,
        "nick": nick,
        "control_port": control_port,
        "dirauthorities": "\n".join(dirauthorities),
        "or_port": or_port,
        "dir_port": dir_port,
        "socks_port": socks_port,
    }
    text = _COMMON.format(**values)
    if role in ("authority", "relay"):
        text += _RELAY.format(**values)
    if role == "authority":
        text += _AUTHORITY.format(**values)
    elif role == "onion":
        text += _ONION_HOST
        for name, port in services:
            text += f"HiddenServiceDir {datadir}/hs_{name}\nHiddenServicePort 80 127.0.0.1:{port}\n"
            # 443 too: an https onion serves TLS on its one port (elsewhere it is refused).
            text += f"HiddenServicePort 443 127.0.0.1:{port}\n"
    elif role == "client":
        text += _CLIENT.format(**values)
    elif role != "relay":
        raise ValueError(f"unknown tor role {role!r}")
    return text


def client_torrc_lines(dirauthorities: list[str]) -> list[str]:
    """torrc lines for an extra client joining the lab network (e.g. ``tor.extra_torrc``)."""
    common = [line for line in _COMMON.splitlines()
              if line and not line.startswith(("#", "{", "DataDirectory", "Nickname", "ContactInfo",
                                                "PidFile", "Log ", "ControlPort", "Cookie"))]
    return [*common, "ReachableAddresses 127.0.0.0/8", *dirauthorities]
