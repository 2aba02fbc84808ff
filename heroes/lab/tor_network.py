"""The lab's private Tor network: 3 directory authorities, 4 non-exit relays, one tor hosting
the onion services, and one client (SocksPort with ``IsolateSOCKSAuth``, ControlPort).

:func:`up` writes the torrcs (:mod:`heroes.lab.tor_config`), starts every tor detached,
waits for the client to bootstrap, and returns only after a real onion page came back
through the SocksPort (a first fetch may fail with "descriptor not found": then NEWNYM,
which purges the client's onion-service state, and retry with a short per-try timeout).
Every tor is recorded in the lab's process table (group ``tor``,
:mod:`heroes.lab.processes`); :func:`down` stops only those whose pid and start time still
match. ``<lab>/tor/state.json`` keeps the network's addresses and onion hostnames. Reads
no settings: the caller passes the lab directory and ports.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import stem
from stem import Signal
from stem.control import Controller

from heroes.lab import tor_config
from heroes.lab.processes import LabProcess, ProcessTable, ReadyCheck, is_alive, log_tail
from heroes.lab.tor_config import AUTHORITIES, RELAYS, LabSetupError, Ports

log = logging.getLogger(__name__)
# stem reports every closed control connection at INFO; that is noise here.
logging.getLogger("stem").setLevel(logging.WARNING)

BOOTSTRAP_TIMEOUT_S = 120.0
FETCH_TIMEOUT_S = 180.0
FETCH_TRY_S = 15.0
GROUP = "tor"
# Files a tor instance may keep between runs: its keys and its onion services' keys.
_KEEP = ("keys", "fingerprint")


def _tor_dir(lab_dir: Path) -> Path:
    return lab_dir / "tor"


def _state_path(lab_dir: Path) -> Path:
    return _tor_dir(lab_dir) / "state.json"


def _clean_datadir(datadir: Path) -> None:
    """Drop cached consensus and state from an earlier run; keep keys (stable identities)."""
    if not datadir.exists():
        return
    for entry in datadir.iterdir():
        if entry.name in _KEEP or entry.name.startswith("hs_"):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class SocksReplyError(OSError):
    """Tor answered the SOCKS request with an error code (0xF0-0xF7: the onion was not reached)."""

    def __init__(self, code: int, host: str):
        super().__init__(f"SOCKS error 0x{code:02x} for {host}")
        self.code = code


def socks_open(
    socks_port: int, host: str, port: int = 80, *, username: str = "lab-probe",
    timeout: float = FETCH_TRY_S,
) -> socket.socket:
    """A stream to host:port through Tor's SocksPort (the name goes to Tor unresolved)."""
    sock = socket.create_connection(("127.0.0.1", socks_port), timeout=timeout)
    try:
        user = username.encode()
        sock.sendall(b"\x05\x01\x02")
        if _recv(sock, 2) != b"\x05\x02":
            raise OSError("SOCKS server refused username authentication")
        sock.sendall(b"\x01" + bytes([len(user)]) + user + b"\x01x")
        if _recv(sock, 2)[1] != 0:
            raise OSError("SOCKS authentication failed")
        name = host.encode("ascii")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        reply = _recv(sock, 4)
        if reply[1] != 0:
            raise SocksReplyError(reply[1], host)
        atyp = reply[3]
        length = 4 if atyp == 1 else 16 if atyp == 4 else _recv(sock, 1)[0]
        _recv(sock, length + 2)
    except BaseException:
        sock.close()
        raise
    return sock


def socks_get(
    socks_port: int,
    host: str,
    path: str = "/",
    *,
    username: str = "lab-probe",
    timeout: float = FETCH_TRY_S,
) -> tuple[int, bytes]:
    """GET http://host/path through Tor's SocksPort; the name goes to Tor unresolved."""
    with socks_open(socks_port, host, username=username, timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed during the SOCKS handshake")
        data += chunk
    return data


def _controller(port: int) -> Controller:
    controller = Controller.from_port(address="127.0.0.1", port=port)
    controller.authenticate()
    return controller


def _check_alive(records: list[LabProcess]) -> None:
    for record in records:
        if not is_alive(record):
            raise LabSetupError(
                f"tor instance {record.name} died; last log lines:\n"
                f"{log_tail(Path(record.log).parent / 'notice.log')}\n"
                f"{log_tail(record.log)}"
            )


def _wait_bootstrap(port: int, records: list[LabProcess], deadline: float) -> None:
    last = ""
    controller: Controller | None = None
    try:
        while time.monotonic() < deadline:
            _check_alive(records)
            try:
                # One connection for the whole wait: reconnecting twice a second floods logs.
                controller = controller or _controller(port)
                last = controller.get_info("status/bootstrap-phase")
            except (stem.SocketError, stem.ControllerError) as exc:
                last = f"control port not ready: {exc}"
                controller = None
            if "PROGRESS=100" in last:
                return
            time.sleep(0.5)
    finally:
        if controller is not None:
            controller.close()
    raise LabSetupError(f"the lab tor client did not bootstrap in time: {last!r}")


def _wait_hostnames(
    datadir: Path, names: list[str], records: list[LabProcess], deadline: float
) -> dict[str, str]:
    hostnames: dict[str, str] = {}
    while time.monotonic() < deadline:
        _check_alive(records)
        for name in names:
            path = datadir / f"hs_{name}" / "hostname"
            if name not in hostnames and path.exists():
                hostnames[name] = path.read_text().strip()
        if len(hostnames) == len(names):
            return hostnames
        time.sleep(0.2)
    raise LabSetupError(f"onion hostnames not written in {datadir}: have {sorted(hostnames)}")


def _first_fetch(ports: Ports, host: str, records: list[LabProcess], deadline: float) -> int:
    attempts = 0
    while True:
        attempts += 1
        _check_alive(records)
        try:
            status, _ = socks_get(ports.client_socks, host, "/", timeout=FETCH_TRY_S)
            if status:
                return attempts
            error = "no HTTP status line"
        except OSError as exc:
            error = str(exc)
        if time.monotonic() >= deadline:
            raise LabSetupError(
                f"no onion page fetched from {host} after {attempts} tries: {error}"
            )
        log.info("first onion fetch failed (%s); NEWNYM and retry", error)
        _newnym(ports)
        time.sleep(1.0)


def _newnym(ports: Ports) -> None:
    try:
        with _controller(ports.client_control) as controller:
            controller.signal(Signal.NEWNYM)
    except (stem.SocketError, stem.ControllerError) as exc:
        log.warning("NEWNYM failed: %s", exc)


def _await_onions(
    ports: Ports, hosts: list[str], records: list[LabProcess], deadline: float
) -> None:
    """Block until the client reaches every onion's service (any answer past the rendezvous).

    A client that asked for a descriptor before it was published remembers the failure; the
    crawler treats "descriptor not found" as the service being down, so a test must not meet
    a lab onion in that state. NEWNYM between rounds clears the client's memory of it.
    """
    waiting = list(hosts)
    while waiting:
        _check_alive(records)
        errors: dict[str, str] = {}
        for host in waiting:
            try:
                socks_open(ports.client_socks, host).close()
            except SocksReplyError as exc:
                if not 0xF0 <= exc.code <= 0xF7:
                    continue  # reached; the service refused the stream (e.g. no port 80)
                errors[host] = str(exc)
            except OSError as exc:
                errors[host] = str(exc)
        waiting = list(errors)
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise LabSetupError(f"onions not reachable: {errors}")
        log.info("onions not reachable yet (%s); NEWNYM and retry", errors)
        _newnym(ports)
        time.sleep(1.0)


def up(
    lab_dir: Path,
    services: Mapping[str, int],
    *,
    base_port: int = 17000,
    tor: str = "tor",
    probe_service: str | None = None,
    table: ProcessTable | None = None,
) -> dict[str, Any]:
    """Start the network for ``services`` (name -> local web port); block until an onion works.

    Returns a JSON-able status: ports, onion hostnames (name -> host), timings. The tor
    processes are recorded in ``table`` (default: the lab directory's).
    """
    lab_dir = lab_dir.resolve()
    table = table if table is not None else ProcessTable.of(lab_dir)
    tor_dir = _tor_dir(lab_dir)
    tor_dir.mkdir(parents=True, exist_ok=True)
    old = status(lab_dir, table)
    if old.get("running"):
        raise LabSetupError(
            f"a lab Tor network already runs from {lab_dir} (run 'heroes lab down')"
        )
    if shutil.which(tor) is None:
        raise LabSetupError(f"the tor executable {tor!r} is not on PATH (apt-get install tor)")
    ports = Ports(base_port)
    started = time.monotonic()
    v3idents, fingerprints = [], []
    for i in range(AUTHORITIES):
        datadir = tor_dir / f"auth{i}"
        v3idents.append(tor_config.authority_v3ident(datadir / "keys", ports.authority_dir(i)))
        fingerprints.append(tor_config.relay_fingerprint(tor, datadir, lab_dir))
    dirauths = tor_config.dirauthority_lines(ports, v3idents, fingerprints)
    keygen_s = time.monotonic() - started

    instances: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(AUTHORITIES):
        instances.append(
            (
                f"auth{i}",
                "authority",
                {
                    "or_port": ports.authority_or(i),
                    "dir_port": ports.authority_dir(i),
                    "control_port": ports.authority_control(i),
                },
            )
        )
    for i in range(RELAYS):
        instances.append(
            (
                f"relay{i}",
                "relay",
                {"or_port": ports.relay_or(i), "control_port": ports.relay_control(i)},
            )
        )
    instances.append(
        (
            "onion",
            "onion",
            {"control_port": ports.onion_control, "services": sorted(services.items())},
        )
    )
    instances.append(
        (
            "client",
            "client",
            {"control_port": ports.client_control, "socks_port": ports.client_socks},
        )
    )

    empty = tor_config.empty_torrc(lab_dir)
    records: list[LabProcess] = []
    launch = time.monotonic()
    try:
        for nick, role, options in instances:
            datadir = tor_dir / nick
            _clean_datadir(datadir)
            datadir.mkdir(parents=True, exist_ok=True)
            datadir.chmod(0o700)
            torrc = tor_dir / f"{nick}.torrc"
            torrc.write_text(
                tor_config.render(
                    role, nick=nick, datadir=datadir, dirauthorities=dirauths, **options
                )
            )
            own_ports = {k: v for k, v in options.items() if k.endswith("_port")}
            records.append(
                table.start(
                    nick,
                    [tor, "--defaults-torrc", str(empty), "-f", str(torrc)],
                    log=tor_dir / f"{nick}.stdout.log",
                    group=GROUP,
                    ports=own_ports,
                    # Checked below for the network as a whole: bootstrap, then a fetch.
                    ready=ReadyCheck.owner("client bootstrapped, an onion page fetched"),
                )
            )
        _write_state(lab_dir, {"running": True})
        deadline = launch + BOOTSTRAP_TIMEOUT_S
        _wait_bootstrap(ports.client_control, records, deadline)
        bootstrap_s = time.monotonic() - launch
        hostnames = _wait_hostnames(tor_dir / "onion", list(services), records, deadline)
        probe = probe_service or next(iter(services))
        attempts = _first_fetch(
            ports, hostnames[probe], records, time.monotonic() + FETCH_TIMEOUT_S
        )
        _await_onions(ports, [h for n, h in hostnames.items() if n != probe], records,
                      time.monotonic() + FETCH_TIMEOUT_S)
    except BaseException:
        table.stop(group=GROUP)
        _write_state(lab_dir, {"running": False})
        raise
    result = {
        "running": True,
        "socks": {"host": "127.0.0.1", "port": ports.client_socks},
        "control": {
            "host": "127.0.0.1",
            "port": ports.client_control,
            "cookie": str(tor_dir / "client" / "control_auth_cookie"),
        },
        "onions": hostnames,
        "dir_authorities": dirauths,
        "ports": {
            "base": base_port,
            "onion_control": ports.onion_control,
            "authorities_dir": [ports.authority_dir(i) for i in range(AUTHORITIES)],
        },
        "timings": {
            "keys_s": round(keygen_s, 2),
            "bootstrap_s": round(bootstrap_s, 2),
            "first_fetch_s": round(time.monotonic() - launch, 2),
            "first_fetch_attempts": attempts,
        },
    }
    _write_state(lab_dir, result)
    return result


def _write_state(lab_dir: Path, state: dict[str, Any]) -> None:
    path = _state_path(lab_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def status(lab_dir: Path, table: ProcessTable | None = None) -> dict[str, Any]:
    """The recorded state, with ``running`` true only if every recorded tor still lives."""
    path = _state_path(lab_dir)
    if not path.exists():
        return {"running": False}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LabSetupError(f"{path}: unreadable lab state: {exc}") from exc
    table = table if table is not None else ProcessTable.of(lab_dir)
    records = [r for r in table.records(GROUP) if r.stopped_at is None]
    alive = {r.name: is_alive(r) for r in records}
    state["alive"] = alive
    state["running"] = bool(records) and all(alive.values())
    return state


def down(lab_dir: Path, table: ProcessTable | None = None) -> list[str]:
    """Stop the tor processes this lab started (and nothing else); returns their names."""
    table = table if table is not None else ProcessTable.of(lab_dir)
    stopped = table.stop(group=GROUP)
    path = _state_path(lab_dir)
    if path.exists():
        state = json.loads(path.read_text())
        state["running"] = False
        _write_state(lab_dir, state)
    return stopped
