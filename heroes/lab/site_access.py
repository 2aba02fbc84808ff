"""The lab's defended onion services: what real sites put in front of their content.

Six small sites with neutral generated text, served by one process (one 127.0.0.1 port
each), every request logged as one JSON line (``<dir>/requests.jsonl``: site, path, status,
whether it carried a session):

* ``queue``: an EndGame-style waiting page (meta refresh after ``QUEUE_WAIT_S``) that hands
  out a cookie; the same cookie presented after the wait gets the content;
* ``captcha``: a challenge form with a generated image of random letters on every page; only
  a session cookie an analyst imports (``captcha_ok=<token>``) passes;
* ``login``: a forum behind a login wall; accepts the analyst's imported session cookie
  (``sid=<token>``) and a form login (``POST /login`` with ``username``/``password`` from
  ``<dir>/login/users.json``); sessions listed in ``<dir>/login/revoked`` stop working;
* ``ratelimit``: more than ``RATE_LIMIT`` requests in ``RATE_WINDOW_S`` -> 429 with
  ``Retry-After`` (the lab sees every circuit as 127.0.0.1, so the count is per site);
* ``httpsonly``: TLS only, a self-signed certificate made at start;
* ``jsonly``: text and links exist only after its script runs, and the script asks for an
  image, a font and a video (which a crawler must never fetch).

``prepare(dir)`` writes the files and returns the ground truth; ``python -m
heroes.lab.site_access --dir DIR --site NAME:PORT ...`` serves them. Reads no settings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import html
import io
import json
import random
import secrets
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SITES = ("queue", "captcha", "login", "ratelimit", "httpsonly", "jsonly")
QUEUE_WAIT_S = 2
RATE_LIMIT = 5
RATE_WINDOW_S = 10
PAGES_PER_SITE = {"queue": 4, "captcha": 3, "login": 5, "ratelimit": 14, "httpsonly": 4,
                  "jsonly": 3}
TOPICS = ("seed swaps", "compost heaps", "rain barrels", "bee hotels", "tomato blight",
          "pruning roses", "herb spirals", "cold frames", "leaf mould", "wormeries",
          "green manure", "mulching paths", "bean poles", "frost cloth", "pond plants")
# Text only challenge pages carry: the index must never contain it.
CHALLENGE_MARKERS = {
    "queue": "You are in the waiting queue",
    "captcha": "Enter the characters you see",
    "login": "You must log in to read this forum",
}
CONTENT_MARKERS = {name: f"allotment-notebook-{i}" for i, name in enumerate(SITES)}


def _page(site: str, i: int, links: list[str]) -> str:
    topic = TOPICS[i % len(TOPICS)]
    items = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in links)
    title = f"{site.title()} garden club - {topic}" if i else f"{site.title()} garden club"
    return (f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>Notes on {topic} from the {CONTENT_MARKERS[site]}."
            " Members share what worked this season and what they will try next year.</p>"
            f"<ul>{items}</ul></body></html>")


def _content(site: str) -> dict[str, str]:
    n = PAGES_PER_SITE[site]
    paths = [f"/p/{i}.html" for i in range(1, n)]
    pages = {"/": _page(site, 0, [(p, f"Page {i}") for i, p in enumerate(paths, 1)])}
    for i, path in enumerate(paths, 1):
        pages[path] = _page(site, i, [("/", "Back to the index")])
    return pages


def _letters_png(letters: str, seed: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("L", (120, 40), 255)
    draw = ImageDraw.Draw(image)
    for i, ch in enumerate(letters):
        draw.text((10 + i * 18 + rng.randint(-2, 2), 12 + rng.randint(-4, 4)), ch, fill=0)
    for _ in range(6):
        draw.line([(rng.randint(0, 120), rng.randint(0, 40)) for _ in range(2)], fill=90)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _self_signed(cert: Path, key: Path, name: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Garden Club Lab")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    key.chmod(0o600)
    der = certificate.public_bytes(serialization.Encoding.DER)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return hashlib.sha256(der).hexdigest()


JS_APP = """
(function () {
  var notes = {"/": ["Lantern notes", "Evening walks past the %(marker)s beds."],
               "/n/1.html": ["Lantern notes - moths", "Moths visit the night-scented stock."],
               "/n/2.html": ["Lantern notes - bats", "Bats hunt above the pond at dusk."]};
  var here = notes[location.pathname] || notes["/"];
  document.title = here[0];
  var root = document.getElementById("root");
  var h = document.createElement("h1"); h.textContent = here[0]; root.appendChild(h);
  var p = document.createElement("p"); p.textContent = here[1]; root.appendChild(p);
  ["/", "/n/1.html", "/n/2.html"].forEach(function (href) {
    var a = document.createElement("a"); a.href = href; a.textContent = "note " + href;
    root.appendChild(a);
  });
  var img = new Image(); img.src = "/media/lantern.png"; root.appendChild(img);
  var v = document.createElement("video"); v.src = "/media/dusk.mp4"; root.appendChild(v);
  var s = document.createElement("style");
  s.textContent = "@font-face{font-family:n;src:url(/media/notes.woff2)} body{font-family:n}";
  document.head.appendChild(s);
  var o = document.createElement("object"); o.data = "/media/map.swf"; root.appendChild(o);
})();
"""
JS_SHELL = ("<!DOCTYPE html><html><head><title>Loading</title>"
            '<script src="/app.js" defer></script></head><body><div id="root"></div>'
            "<noscript>This site requires JavaScript.</noscript></body></html>")


def prepare(out_dir: Path, seed: int = 1) -> dict[str, Any]:
    """Write the sites' state under ``out_dir``; returns the ground truth (tokens, the
    form-login account, the certificate fingerprint, page paths, markers)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6))
    (out_dir / "captcha.png").write_bytes(_letters_png(letters, seed))
    (out_dir / "login").mkdir(exist_ok=True)
    account = {"username": "lab-reader", "password": secrets.token_urlsafe(12)}
    (out_dir / "login" / "users.json").write_text(json.dumps({account["username"]:
                                                              account["password"]}))
    (out_dir / "login" / "revoked").write_text("")
    tokens = {"sid": "lab-" + secrets.token_hex(12), "captcha_ok": secrets.token_hex(12)}
    (out_dir / "tokens.json").write_text(json.dumps(tokens))
    fingerprint = _self_signed(out_dir / "tls-cert.pem", out_dir / "tls-key.pem",
                               "garden-club.onion")
    pages = {site: sorted(_content(site)) for site in SITES if site != "jsonly"}
    pages["jsonly"] = ["/", "/n/1.html", "/n/2.html"]
    return {"dir": str(out_dir), "tokens": tokens, "account": account,
            "tls_sha256": fingerprint, "pages": pages, "challenge_markers": CHALLENGE_MARKERS,
            "content_markers": CONTENT_MARKERS, "rate_limit": RATE_LIMIT,
            "rate_window_s": RATE_WINDOW_S, "queue_wait_s": QUEUE_WAIT_S,
            "log": str(out_dir / "requests.jsonl")}


class _State:
    def __init__(self, out_dir: Path):
        self.dir = out_dir
        self.lock = threading.Lock()
        self.tokens = json.loads((out_dir / "tokens.json").read_text())
        self.queue_tickets: dict[str, float] = {}
        self.sessions: set[str] = {self.tokens["sid"]}
        self.window = (0.0, 0)
        self.content = {site: _content(site) for site in SITES if site != "jsonly"}

    def log(self, entry: dict[str, Any]) -> None:
        with self.lock, open(self.dir / "requests.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    def revoked(self) -> set[str]:
        return set((self.dir / "login" / "revoked").read_text().split())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        return

    @property
    def site(self) -> str:
        return self.server.site  # type: ignore[attr-defined]

    @property
    def state(self) -> _State:
        return self.server.state  # type: ignore[attr-defined]

    def _cookies(self) -> dict[str, str]:
        out = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name:
                out[name] = value
        return out

    def _send(self, status: int, body: bytes | str, ctype: str = "text/html; charset=utf-8",
              extra: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.state.log({"at": time.time(), "site": self.site, "method": self.command,
                        "path": self.path, "status": status,
                        "session": bool(self._cookies())})

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        getattr(self, f"_get_{self.site}")(path)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.site == "login" and urlsplit(self.path).path == "/login":
            users = json.loads((self.state.dir / "login" / "users.json").read_text())
            if users.get(form.get("username", "")) == form.get("password") and users:
                sid = "form-" + secrets.token_hex(12)
                with self.state.lock:
                    self.state.sessions.add(sid)
                self._send(302, "", extra={"Location": "/", "Set-Cookie": f"sid={sid}; Path=/"})
                return
            self._send(200, self._login_form("Wrong name or password."))
            return
        self._send(405, "method not allowed", "text/plain")

    def _serve_content(self, path: str) -> None:
        page = self.state.content[self.site].get(path)
        if page is None:
            self._send(404, "<html><body>not found</body></html>")
        else:
            self._send(200, page)

    def _get_queue(self, path: str) -> None:
        ticket = self._cookies().get("queue_ticket", "")
        issued = self.state.queue_tickets.get(ticket)
        if issued is not None and time.monotonic() - issued >= QUEUE_WAIT_S:
            self._serve_content(path)
            return
        extra = {}
        if issued is None:
            ticket = secrets.token_hex(8)
            with self.state.lock:
                self.state.queue_tickets[ticket] = time.monotonic()
            extra["Set-Cookie"] = f"queue_ticket={ticket}; Path=/"
        body = (f'<html><head><title>Queue</title><meta http-equiv="refresh" '
                f'content="{QUEUE_WAIT_S}; url={html.escape(path)}"></head><body>'
                f"<h1>{CHALLENGE_MARKERS['queue']}</h1><p>Your position: 3. Please wait, you "
                "will be redirected automatically.</p></body></html>")
        self._send(200, body, extra=extra)

    def _get_captcha(self, path: str) -> None:
        if path == "/captcha.png":
            self._send(200, (self.state.dir / "captcha.png").read_bytes(), "image/png")
            return
        if self._cookies().get("captcha_ok") == self.state.tokens["captcha_ok"]:
            self._serve_content(path)
            return
        body = ("<html><head><title>Security check</title></head><body><h2>Security check</h2>"
                '<form method="post" action="/captcha"><img src="/captcha.png" alt="">'
                f"<label>{CHALLENGE_MARKERS['captcha']}</label>"
                '<input name="captcha"><input type="submit" value="Continue"></form>'
                "</body></html>")
        self._send(200, body)

    def _login_form(self, note: str = "") -> str:
        return ("<html><head><title>Garden forum - log in</title></head><body>"
                f"<h1>Garden forum</h1><p>{CHALLENGE_MARKERS['login']}. {note}</p>"
                '<form method="post" action="/login"><input name="username">'
                '<input name="password" type="password"><input type="submit" value="Log in">'
                '</form><a href="/register">Register</a></body></html>')

    def _get_login(self, path: str) -> None:
        sid = self._cookies().get("sid", "")
        if sid in self.state.sessions and sid not in self.state.revoked():
            self._serve_content(path)
            return
        self._send(200, self._login_form())

    def _get_ratelimit(self, path: str) -> None:
        now = time.monotonic()
        with self.state.lock:
            start, count = self.state.window
            if now - start >= RATE_WINDOW_S:
                start, count = now, 0
            count += 1
            self.state.window = (start, count)
        if count > RATE_LIMIT:
            wait = max(1, int(start + RATE_WINDOW_S - now + 0.999))
            self._send(429, "<html><body>Too many requests.</body></html>",
                       extra={"Retry-After": str(wait)})
            return
        self._serve_content(path)

    def _get_httpsonly(self, path: str) -> None:
        self._serve_content(path)

    def _get_jsonly(self, path: str) -> None:
        if path == "/app.js":
            self._send(200, JS_APP % {"marker": CONTENT_MARKERS["jsonly"]},
                       "application/javascript")
        elif path.startswith("/media/"):
            self._send(200, b"\x00" * 64, "application/octet-stream")
        elif path in ("/", "/n/1.html", "/n/2.html"):
            self._send(200, JS_SHELL)
        else:
            self._send(404, "<html><body>not found</body></html>")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--site", action="append", default=[], help="NAME:PORT")
    args = parser.parse_args(argv)
    state = _State(args.dir)
    threads = []
    for spec in args.site:
        name, _, port = spec.partition(":")
        if name not in SITES or not port.isdigit():
            parser.error(f"--site {spec!r}: expected NAME:PORT with NAME one of {SITES}")
        server = ThreadingHTTPServer(("127.0.0.1", int(port)), _Handler)
        server.site, server.state = name, state  # type: ignore[attr-defined]
        if name == "httpsonly":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(args.dir / "tls-cert.pem", args.dir / "tls-key.pem")
            # The name each TLS client asked for (SNI), for the tests.
            context.sni_callback = lambda _sock, sni, _ctx: state.log(
                {"at": time.time(), "site": "httpsonly", "sni": sni})
            server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    print("ready", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()


# The defended sites' ports: web(ACCESS_PORT_OFFSET + i), clear of the generated sites'.
ACCESS_PORT_OFFSET = 40


def start(table: Any, lab_dir: Path, ports: Any, seed: int = 1,
          timeout_s: float = 60.0) -> tuple[dict[str, int], dict[str, Any]]:
    """Prepare and start the defended sites as one lab process; (name -> port, truth)."""
    import sys

    from heroes.lab.processes import ReadyCheck

    out_dir = lab_dir / "access-sites"
    truth = prepare(out_dir, seed)
    (out_dir / "requests.jsonl").unlink(missing_ok=True)
    web_ports = {name: ports.web(ACCESS_PORT_OFFSET + i) for i, name in enumerate(SITES)}
    argv = [sys.executable, "-m", "heroes.lab.site_access", "--dir", str(out_dir)]
    for name, port in web_ports.items():
        argv += ["--site", f"{name}:{port}"]
    logfile = lab_dir / "access-web.log"
    logfile.unlink(missing_ok=True)
    table.start("access-web", argv, log=logfile, group="web", ports=dict(web_ports),
                ready=ReadyCheck.log_line("ready"), timeout_s=timeout_s)
    return web_ports, truth
