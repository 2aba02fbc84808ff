"""A small open HTTP BitTorrent tracker for the lab swarm (BEP 3 announce, BEP 23 compact).

Run as ``python -m heroes.lab.tiny_tracker --bind 127.0.0.1:6970 --log FILE``. It keeps
peers in memory per infohash, answers every announce with the other peers of that swarm,
and logs each announce as one JSON line (so a test can see who announced). It binds to a
loopback address only; it reads no settings.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote_to_bytes

log = logging.getLogger(__name__)

INTERVAL_S = 10
PEER_TTL_S = 120


def bencode(value: object) -> bytes:
    """Bencode ints, bytes, str, lists and dicts (keys sorted as BEP 3 requires)."""
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


class Swarms:
    """Peers per infohash with the time of their last announce."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._peers: dict[bytes, dict[tuple[str, int], float]] = {}

    def announce(self, infohash: bytes, ip: str, port: int, stopped: bool) -> list[tuple[str, int]]:
        now = time.monotonic()
        with self._lock:
            swarm = self._peers.setdefault(infohash, {})
            for key in [k for k, seen in swarm.items() if now - seen > PEER_TTL_S]:
                del swarm[key]
            if stopped:
                swarm.pop((ip, port), None)
            else:
                swarm[(ip, port)] = now
            return [p for p in swarm if p != (ip, port)]


def _query_bytes(raw_query: str) -> dict[str, bytes]:
    # parse_qs would decode %-escapes as UTF-8 and mangle the binary info_hash.
    out: dict[str, bytes] = {}
    for part in raw_query.split("&"):
        if "=" in part:
            key, _, value = part.partition("=")
            out[key] = unquote_to_bytes(value)
    return out


def make_handler(swarms: Swarms, log_path: Path | None) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path != "/announce":
                self._reply(404, b"not found")
                return
            args = _query_bytes(query)
            try:
                infohash = args["info_hash"]
                port = int(args["port"])
                if len(infohash) != 20 or not 0 < port < 65536:
                    raise ValueError
            except (KeyError, ValueError):
                self._reply(200, bencode({"failure reason": "bad announce"}))
                return
            ip = self.client_address[0]
            if "ip" in args:
                try:
                    ip = str(ipaddress.ip_address(args["ip"].decode()))
                except ValueError:
                    pass
            stopped = args.get("event") == b"stopped"
            others = swarms.announce(infohash, ip, port, stopped)
            compact = b"".join(socket.inet_aton(h) + struct.pack(">H", p) for h, p in others)
            self._reply(200, bencode({"interval": INTERVAL_S, "min interval": 5, "peers": compact}))
            if log_path is not None:
                entry = {"at": time.time(), "info_hash": infohash.hex(), "ip": ip, "port": port,
                         "event": args.get("event", b"").decode(errors="replace"),
                         "peer_id": args.get("peer_id", b"").hex(), "returned": len(others)}
                with lock, log_path.open("a") as fh:
                    fh.write(json.dumps(entry) + "\n")

        def _reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)

    return Handler


class _TrackerServer(ThreadingHTTPServer):
    # A probe that starts thousands of targets announces them in one burst; the default
    # listen backlog of 5 would refuse most of them.
    request_queue_size = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:6970", help="loopback ip:port to listen on")
    parser.add_argument("--log", type=Path, help="JSON-lines announce log")
    args = parser.parse_args()
    host, _, port = args.bind.rpartition(":")
    if not ipaddress.ip_address(host).is_loopback:
        parser.error(f"--bind {args.bind!r}: the lab tracker listens on loopback only")
    server = _TrackerServer((host, int(port)), make_handler(Swarms(), args.log))
    server.daemon_threads = True
    logging.basicConfig(level=logging.INFO)
    log.info("tiny tracker on http://%s:%s/announce", host, server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
