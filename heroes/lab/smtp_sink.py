"""An SMTP sink on loopback for the lab world and the tests: every message becomes a file.

``python -m heroes.lab.smtp_sink --dir DIR [--port N] [--starttls]`` listens on
127.0.0.1 (port 0: any free port), prints ``listening on 127.0.0.1:PORT`` once it
accepts connections, and writes each accepted message to ``DIR/<n>-<time>.eml``
(written to a temporary name first, then renamed, so readers never see half a message).
With ``--starttls`` it offers STARTTLS with a self-signed certificate for 127.0.0.1 and
localhost generated at start-up (``DIR/../sink-cert.pem`` unless ``--cert`` names it),
which clients verify as their CA bundle. ``--require-starttls`` refuses mail before TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import itertools
import logging
import os
import signal
import ssl
import sys
import tempfile
import time
from pathlib import Path

from heroes.lab.extra import INSTALL_HINT

try:
    from aiosmtpd.smtp import SMTP, Envelope, Session
except ImportError as exc:  # the lab extra is not installed
    raise ImportError(f"the lab SMTP sink needs aiosmtpd: {INSTALL_HINT}") from exc

log = logging.getLogger(__name__)


def make_certificate(cert_path: Path, key_path: Path) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "heroes lab smtp sink")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class MaildirHandler:
    """aiosmtpd handler: store each message as one file."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(len(list(directory.glob("*.eml"))) + 1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        header = (
            f"X-Sink-Mail-From: {envelope.mail_from}\r\n"
            f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
            f"X-Sink-TLS: {'yes' if session.ssl else 'no'}\r\n"
        ).encode()
        name = f"{next(self._counter):06d}-{time.time():.6f}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(header + data)
        os.replace(tmp, self.directory / name)
        return "250 OK stored"


async def serve(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    starttls: bool = False,
    require_starttls: bool = False,
    cert: Path | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Future[int] | None = None,
) -> None:
    context = None
    if starttls:
        cert = cert or directory.parent / "sink-cert.pem"
        key = cert.with_suffix(".key")
        if not cert.exists() or not key.exists():
            make_certificate(cert, key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    handler = MaildirHandler(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="sink.localhost",
            tls_context=context,
            require_starttls=require_starttls,
            ident="heroes lab sink",
        ),
        host=host,
        port=port,
    )
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.set_result(bound)
    stop = stop or asyncio.Event()
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, type=Path, help="Where messages are stored.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--starttls", action="store_true", help="Offer STARTTLS (self-signed).")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--cert", type=Path, help="Certificate file to create or use.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ready: asyncio.Future[int] = loop.create_future()
        task = asyncio.create_task(
            serve(
                args.dir,
                host=args.host,
                port=args.port,
                starttls=args.starttls,
                require_starttls=args.require_starttls,
                cert=args.cert,
                stop=stop,
                ready=ready,
            )
        )
        port = await asyncio.wait_for(asyncio.shield(ready), timeout=30)
        print(f"listening on {args.host}:{port}", flush=True)
        await task

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
