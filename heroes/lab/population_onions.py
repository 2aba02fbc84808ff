"""Publishing and withdrawing the population's onion services on its own tor (stem).

Each service is an ephemeral onion service (the control port's ``ADD_ONION``) made from the
service's deterministic key, so its hostname is known in advance; ``DEL_ONION`` withdraws
it: its introduction points close and no new descriptor is published, so clients fail as
they do on a real onion that went away. The services belong to this module's control
connection: when the process holding it dies, tor drops them all. A service counts as
published when tor reported ``HS_DESC UPLOADED`` from one of its HSDirs and no upload to
another is under way. stem's errors become :class:`PopulationError`. Reads no settings.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import dataclass, field

import stem
from stem.control import Controller, EventType
from stem.response.events import HSDescEvent

log = logging.getLogger(__name__)
# stem reports every closed control connection at INFO; that is noise here.
logging.getLogger("stem").setLevel(logging.WARNING)

# Tor's hs_ed25519_secret_key file: a 32-byte header, then the 64-byte expanded key.
_SECRET_HEADER_LEN = 32


class PopulationError(Exception):
    """The population could not be published, withdrawn or reached; the message says why."""


def key_blob(secret_file: bytes) -> str:
    """``ADD_ONION``'s ``ED25519-V3`` key: the expanded key of a secret key file, base64."""
    return base64.b64encode(secret_file[_SECRET_HEADER_LEN:]).decode("ascii")


def _service_id(onion: str) -> str:
    return onion.removesuffix(".onion")


@dataclass
class _Uploads:
    pending: set[str] = field(default_factory=set)
    succeeded: int = 0
    done: threading.Event = field(default_factory=threading.Event)


class OnionPublisher:
    """The population's onion services on one tor, reachable at ``127.0.0.1:target_port``."""

    def __init__(self, controller: Controller, target_port: int):
        self._controller = controller
        self._target = f"127.0.0.1:{target_port}"
        self._lock = threading.Lock()
        self._uploads: dict[str, _Uploads] = {}
        self._published: set[str] = set()
        controller.add_event_listener(self._on_desc, EventType.HS_DESC)

    @classmethod
    def connect(cls, control_port: int, target_port: int, timeout_s: float) -> OnionPublisher:
        """Attach to tor's control port (cookie auth), retrying until it listens."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                controller = Controller.from_port(address="127.0.0.1", port=control_port)
                controller.authenticate()
                return cls(controller, target_port)
            except (stem.SocketError, stem.ControllerError) as exc:
                if time.monotonic() >= deadline:
                    raise PopulationError(
                        f"the population's tor control port 127.0.0.1:{control_port} did not "
                        f"answer: {exc}") from exc
            time.sleep(0.2)

    def _on_desc(self, event: HSDescEvent) -> None:
        # One UPLOAD per HSDir, then UPLOADED or FAILED from each: a service counts as
        # published once one upload succeeded and none is still under way, so a client
        # asking any of its HSDirs right after finds the descriptor.
        with self._lock:
            uploads = self._uploads.get(event.address)
            if uploads is None:
                return
            if event.action == "UPLOAD":
                uploads.pending.add(event.directory)
            elif event.action in ("UPLOADED", "FAILED"):
                uploads.pending.discard(event.directory)
                uploads.succeeded += event.action == "UPLOADED"
            if uploads.succeeded and not uploads.pending:
                uploads.done.set()

    def publish(self, onion: str, secret_file: bytes) -> None:
        """``ADD_ONION`` the service (a no-op when it is published already)."""
        sid = _service_id(onion)
        with self._lock:
            if sid in self._published:
                return
            self._uploads[sid] = _Uploads()
        try:
            reply = self._controller.create_ephemeral_hidden_service(
                {80: self._target}, key_type="ED25519-V3", key_content=key_blob(secret_file),
                await_publication=False, detached=False)
        except (stem.SocketError, stem.ControllerError) as exc:
            raise PopulationError(f"ADD_ONION {onion}: {exc}") from exc
        if reply.service_id != sid:
            raise PopulationError(f"ADD_ONION {onion}: tor made {reply.service_id!r} from its key")
        with self._lock:
            self._published.add(sid)

    def withdraw(self, onion: str) -> None:
        """``DEL_ONION`` the service (a no-op when it is not published)."""
        sid = _service_id(onion)
        with self._lock:
            if sid not in self._published:
                return
            self._published.discard(sid)
            self._uploads.pop(sid, None)
        try:
            self._controller.remove_ephemeral_hidden_service(sid)
        except (stem.SocketError, stem.ControllerError) as exc:
            raise PopulationError(f"DEL_ONION {onion}: {exc}") from exc

    def wait_uploaded(self, onions: list[str], timeout_s: float) -> list[str]:
        """Wait until each service's descriptor is on its HSDirs; returns those that are not."""
        deadline = time.monotonic() + timeout_s
        missing = []
        for onion in onions:
            with self._lock:
                uploads = self._uploads.get(_service_id(onion))
            if uploads is None or not uploads.done.wait(max(0.0, deadline - time.monotonic())):
                missing.append(onion)
        return missing

    def published(self) -> set[str]:
        with self._lock:
            return {f"{sid}.onion" for sid in self._published}

    def close(self) -> None:
        self._controller.close()
