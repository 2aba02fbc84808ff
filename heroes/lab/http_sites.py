"""The web servers behind the lab's onion services, and the clearnet canary.

One process serves several sites, each on its own 127.0.0.1 port (HTTP/1.1, keep-alive),
from the directories written by :mod:`heroes.lab.onion_sites`. A marker file
``<path>.hostile.json`` turns a path into a response that attacks a crawler: ``gzip_bomb``
(a small gzip body inflating to hundreds of MB), ``huge`` (a 50 MB page generated on the
fly, without Content-Length, so only a streaming cap stops it) and ``redirect`` (loops, or
to the clearnet canary).

The canary is a plain HTTP server that appends one JSON line per request it receives; the
crawler must never reach it. Run as ``python -m heroes.lab.http_sites --site NAME:PORT:DIR
... [--canary-port P --canary-log FILE]``. Reads no settings.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import mimetypes
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

HUGE_PAGE_BYTES = 50 * 1024 * 1024

_bomb_lock = threading.Lock()
_bombs: dict[int, bytes] = {}


def gzip_bomb(decompressed: int = 256 * 1024 * 1024) -> bytes:
    """A small gzip body that inflates to ``decompressed`` bytes (built once per size)."""
    with _bomb_lock:
        if decompressed not in _bombs:
            buf = io.BytesIO()
            with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
                gz.write(b"<html><body>")
                block = b"0" * (1024 * 1024)
                for _ in range(decompressed // len(block)):
                    gz.write(block)
            _bombs[decompressed] = buf.getvalue()
        return _bombs[decompressed]


def huge_page_chunks(total: int = HUGE_PAGE_BYTES) -> Iterator[bytes]:
    head = b"<html><head><title>Huge</title></head><body><p>"
    yield head
    line = b"lorem ipsum dolor sit amet market forum listing " * 20 + b"\n"
    sent = len(head)
    while sent < total:
        piece = line[: total - sent]
        sent += len(piece)
        yield piece


class _SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        # One line per request would cost more than serving it; errors are still logged.
        return

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        root: Path = self.server.root  # type: ignore[attr-defined]
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root):
            self._send(404, b"not found", "text/plain")
            return
        marker = target.with_name(target.name + ".hostile.json")
        if marker.is_file():
            self._hostile(json.loads(marker.read_text()))
        else:
            self._static(target)

    def _send(
        self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _static(self, target: Path) -> None:
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or target.name.endswith(".hostile.json"):
            self._send(404, b"<html><body>not found</body></html>", "text/html")
            return
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(200, target.read_bytes(), ctype)

    def _hostile(self, spec: dict[str, object]) -> None:
        kind = spec.get("kind")
        if kind == "gzip_bomb":
            body = gzip_bomb(int(spec.get("decompressed_bytes", 256 * 1024 * 1024)))  # type: ignore[call-overload]
            self._send(200, body, "text/html", {"Content-Encoding": "gzip"})
        elif kind == "huge":
            # No Content-Length: the body ends when the connection closes, so a client can
            # only protect itself by counting bytes as they arrive.
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for chunk in huge_page_chunks(int(spec.get("bytes", HUGE_PAGE_BYTES))):  # type: ignore[call-overload]
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif kind == "redirect":
            self._send(
                int(spec.get("status", 302)),
                b"",
                "text/plain",  # type: ignore[call-overload]
                {"Location": str(spec["location"])},
            )
        else:
            self._send(500, f"unknown hostile kind {kind!r}".encode(), "text/plain")


class _CanaryHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _record(self) -> None:
        hit = {
            "at": time.time(),
            "method": self.command,
            "path": self.path,
            "host": self.headers.get("Host", ""),
            "client": self.client_address[0],
        }
        with self.server.lock:  # type: ignore[attr-defined]
            with open(self.server.log_path, "a", encoding="utf-8") as out:  # type: ignore[attr-defined]
                out.write(json.dumps(hit) + "\n")
        body = b"canary"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_CONNECT = _record


def canary_hits(log_path: Path) -> list[dict[str, object]]:
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", action="append", default=[], help="NAME:PORT:DIR")
    parser.add_argument("--canary-port", type=int, default=0)
    parser.add_argument("--canary-log", type=Path)
    args = parser.parse_args(argv)
    threads = []
    for spec in args.site:
        try:
            _name, port, root = spec.split(":", 2)
            server = ThreadingHTTPServer(("127.0.0.1", int(port)), _SiteHandler)
        except ValueError:
            parser.error(f"--site {spec!r}: expected NAME:PORT:DIR")
        server.root = Path(root).resolve()  # type: ignore[attr-defined]
        threads.append(_serve(server))
    if args.canary_port:
        canary = ThreadingHTTPServer(("127.0.0.1", args.canary_port), _CanaryHandler)
        canary.log_path = args.canary_log  # type: ignore[attr-defined]
        canary.lock = threading.Lock()  # type: ignore[attr-defined]
        threads.append(_serve(canary))
    gzip_bomb()  # build the bomb before readiness, not inside a request
    print("ready", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
