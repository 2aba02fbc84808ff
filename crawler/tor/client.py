"""Tor clients the crawler goes through: launched with stem, or attached to by control port.

Reads ``[tor]``: ``mode``, ``binary``, ``clients``, ``control_ports``, ``socks_ports``,
``control_password``, ``bootstrap_timeout_s``, ``extra_torrc``. In launch mode each client
is started with ``stem.process.launch_tor_with_config(take_ownership=True)`` and its
Controller stays open for the life of the pool: tor exits when that connection closes, so a
crashed crawler never leaves a tor behind. A client that cannot be started, reached or
bootstrapped raises :class:`TorUnavailable` before any crawling starts. Launched clients get
``SocksPort ... ExtendedErrors IsolateSOCKSAuth``; an attached client whose SocksPort lacks
``ExtendedErrors`` (Tor's onion-service SOCKS codes 0xF0-0xF7) is warned about at start.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import stem
import stem.connection
import stem.process
from stem import Signal
from stem.control import Controller, Listener

from config.sections.tor import TorSettings
from crawler.errors import TorUnavailable

log = logging.getLogger(__name__)
# stem reports every closed control connection at INFO; that is noise for an operator.
logging.getLogger("stem").setLevel(logging.WARNING)


@dataclass(frozen=True)
class TorEndpoint:
    """Where one client listens (SOCKS) and is controlled."""

    socks_host: str
    socks_port: int
    control_port: int | None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_torrc_lines(lines: list[str]) -> dict[str, str | list[str]]:
    """``["Key value", ...]`` as stem's config dict; a repeated key becomes a list."""
    config: dict[str, str | list[str]] = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if not value:
            raise TorUnavailable(
                f"tor.extra_torrc[{number - 1}]: expected 'Key value', got {line!r}"
            )
        old = config.get(key)
        if old is None:
            config[key] = value.strip()
        else:
            config[key] = [*(old if isinstance(old, list) else [old]), value.strip()]
    return config


def _bootstrapped(controller: Controller, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    phase = ""
    while time.monotonic() < deadline:
        phase = controller.get_info("status/bootstrap-phase")
        if "PROGRESS=100" in phase:
            return
        time.sleep(0.25)
    raise TorUnavailable(
        f"{what} did not finish bootstrapping in {timeout_s:g} s (last: {phase!r}); "
        "check its network and tor.bootstrap_timeout_s"
    )


def socks_port_flags(lines: list[str], port: int) -> set[str] | None:
    """The flags of the ``SocksPort`` line (as ``GETCONF`` gives it) listening on ``port``,
    None when no line names that port."""
    for line in lines:
        address, *flags = line.split()
        if address.rsplit(":", 1)[-1] == str(port):
            return set(flags)
    return None


def _check_extended_errors(controller: Controller, port: int, index: int) -> None:
    """Warn when an attached client's SocksPort lacks ``ExtendedErrors``: without it a dead
    onion answers 0x01 like a broken circuit, and is retried (and costs NEWNYMs) as one."""
    try:
        lines = controller.get_conf("SocksPort", multiple=True) or []
    except (stem.ControllerError, stem.SocketError) as exc:
        log.warning("tor client %d: cannot read its SocksPort flags: %s", index, exc)
        return
    flags = socks_port_flags([str(line) for line in lines], port)
    if flags is not None and "ExtendedErrors" not in flags:
        log.warning(
            "tor client %d: SocksPort %d has no ExtendedErrors flag, so a dead onion looks "
            "like a circuit failure; add it: SocksPort 127.0.0.1:%d ExtendedErrors "
            "IsolateSOCKSAuth",
            index, port, port,
        )


class TorPool:
    """The crawler's Tor clients; a context manager that launches or attaches on enter."""

    def __init__(self, settings: TorSettings, data_dir: Path):
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.endpoints: list[TorEndpoint] = []
        self._controllers: list[Controller] = []
        self._processes: list[object] = []

    def __enter__(self) -> TorPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> list[TorEndpoint]:
        try:
            if self.settings.mode == "launch":
                for i in range(self.settings.clients):
                    self._launch(i)
            else:
                self._attach_all()
        except BaseException:
            self.close()
            raise
        log.info(
            "tor clients ready: %s", ", ".join(f"socks {e.socks_port}" for e in self.endpoints)
        )
        return self.endpoints

    def _launch(self, index: int) -> None:
        socks_port, control_port = _free_port(), _free_port()
        datadir = self.data_dir / "tor" / f"client{index}"
        datadir.mkdir(parents=True, exist_ok=True)
        datadir.chmod(0o700)
        config = parse_torrc_lines(list(self.settings.extra_torrc))
        config.update(
            {
                "SocksPort": f"127.0.0.1:{socks_port} ExtendedErrors IsolateSOCKSAuth",
                "ControlPort": f"127.0.0.1:{control_port}",
                "CookieAuthentication": "1",
                "DataDirectory": str(datadir),
            }
        )
        # stem's timeout uses SIGALRM, which only works in the main thread.
        in_main = threading.current_thread() is threading.main_thread()
        try:
            process = stem.process.launch_tor_with_config(
                config=config,
                tor_cmd=self.settings.binary,
                completion_percent=100,
                timeout=self.settings.bootstrap_timeout_s if in_main else None,
                take_ownership=True,
            )
        except (OSError, stem.SocketError) as exc:
            raise TorUnavailable(
                f"cannot launch tor client {index} ({self.settings.binary!r}): {exc}; "
                "set tor.binary or use tor.mode = 'attach'"
            ) from exc
        self._processes.append(process)
        controller = self._connect(control_port, f"launched tor client {index}")
        self._controllers.append(controller)
        self.endpoints.append(TorEndpoint("127.0.0.1", socks_port, control_port))

    def _connect(self, port: int, what: str) -> Controller:
        try:
            controller = Controller.from_port(address="127.0.0.1", port=port)
            password = self.settings.control_password.get_secret_value() or None
            controller.authenticate(password=password)
        except (stem.SocketError, stem.connection.AuthenticationFailure) as exc:
            raise TorUnavailable(
                f"{what}: cannot use control port 127.0.0.1:{port}: {exc}; "
                "is tor running with ControlPort set (tor.control_ports)?"
            ) from exc
        return controller

    def _attach_all(self) -> None:
        ports = list(self.settings.control_ports)
        if not ports:
            raise TorUnavailable("tor.mode is 'attach' but tor.control_ports is empty")
        for i, port in enumerate(ports):
            controller = self._connect(port, f"tor client {i}")
            self._controllers.append(controller)
            _bootstrapped(controller, self.settings.bootstrap_timeout_s, f"tor client {i}")
            if i < len(self.settings.socks_ports):
                socks = ("127.0.0.1", self.settings.socks_ports[i])
            else:
                listeners = controller.get_listeners(Listener.SOCKS)
                if not listeners:
                    raise TorUnavailable(f"tor client {i} (control port {port}) has no SocksPort")
                socks = listeners[0]
            self.endpoints.append(TorEndpoint(socks[0], int(socks[1]), port))
            _check_extended_errors(controller, int(socks[1]), i)

    def newnym(self, index: int) -> None:
        """New circuits (and a purged onion-service cache) for client ``index``."""
        try:
            self._controllers[index].signal(Signal.NEWNYM)
        except (stem.SocketError, stem.ControllerError) as exc:
            log.warning("NEWNYM on tor client %d failed: %s", index, exc)

    def built_circuits(self) -> dict[int, int]:
        """Circuits each client has built now (clients that do not answer are left out)."""
        out: dict[int, int] = {}
        for index, controller in enumerate(list(self._controllers)):
            try:
                out[index] = count_built(controller)
            except (stem.SocketError, stem.ControllerError) as exc:
                log.debug("circuit count of tor client %d unavailable: %s", index, exc)
        return out

    def close(self) -> None:
        for controller in reversed(self._controllers):
            controller.close()
        self._controllers.clear()
        for process in self._processes:
            # take_ownership: tor exits when its controller goes; make sure and reap it.
            try:
                process.terminate()  # type: ignore[attr-defined]
                process.wait(timeout=10)  # type: ignore[attr-defined]
            except Exception as exc:
                log.debug("tor client already gone: %s", exc)
        self._processes.clear()


def newnym(endpoint: TorEndpoint, password: str = "") -> None:
    """Signal NEWNYM through a short-lived control connection (used from the download path)."""
    if endpoint.control_port is None:
        return
    try:
        with Controller.from_port(address="127.0.0.1", port=endpoint.control_port) as controller:
            controller.authenticate(password=password or None)
            controller.signal(Signal.NEWNYM)
    except (stem.SocketError, stem.ControllerError, stem.connection.AuthenticationFailure) as exc:
        log.warning("NEWNYM on control port %d failed: %s", endpoint.control_port, exc)


def count_built(controller: Controller) -> int:
    """Circuits in state BUILT on the client behind ``controller`` (``GETINFO circuit-status``)."""
    return sum(1 for circuit in controller.get_circuits() if circuit.status == "BUILT")


def built_circuits(endpoint: TorEndpoint, password: str = "") -> int | None:
    """``count_built`` through a short-lived control connection; None if the client cannot
    be asked (no control port, unreachable)."""
    if endpoint.control_port is None:
        return None
    try:
        with Controller.from_port(address="127.0.0.1", port=endpoint.control_port) as controller:
            controller.authenticate(password=password or None)
            return count_built(controller)
    except (stem.SocketError, stem.ControllerError,
            stem.connection.AuthenticationFailure) as exc:
        log.debug("circuit count on control port %d unavailable: %s", endpoint.control_port, exc)
        return None
