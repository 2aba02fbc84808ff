"""Run the ``heroes`` CLI with name resolution and outgoing connections recorded.

``python -m tests.crawler.netspy LOG heroes-args...``: every ``getaddrinfo`` /
``gethostbyname`` call and every ``connect`` target is appended to LOG as one JSON line,
then the CLI runs as usual, and at exit its own peak resident memory (``maxrss_kb``, VmHWM: this
process alone, not the children of whoever started it). The crawler must never resolve a
name locally (Tor resolves onion names) and must connect only to loopback.
"""

from __future__ import annotations

import atexit
import json
import socket
import sys
import threading
from typing import Any

from telemetry.native_memory import peak_resident_kb

_lock = threading.Lock()


def install(log_path: str) -> None:
    def record(kind: str, target: Any) -> None:
        with _lock, open(log_path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"kind": kind, "target": repr(target)}) + "\n")

    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        record("resolve", host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        record("resolve", host)
        return real_gethostbyname(host)

    def gethostbyname_ex(host: str) -> Any:
        record("resolve", host)
        return real_gethostbyname_ex(host)

    def connect(self: socket.socket, address: Any) -> Any:
        record("connect", address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        record("connect", address)
        return real_connect_ex(self, address)

    # VmHWM, not ru_maxrss: that one survives exec and would report the test session's size.
    atexit.register(lambda: record("maxrss_kb", peak_resident_kb()))
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


if __name__ == "__main__":
    install(sys.argv[1])
    from heroes.cli import main

    main(sys.argv[2:], prog_name="heroes")
