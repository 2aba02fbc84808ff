"""The lab's RFC 3161 Time Stamping Authority: Debian's ``openssl ts -reply`` behind HTTP.

``python -m heroes.lab.tsa --dir DIR [--port N]`` makes (once) a test CA and a TSA
certificate with a P-256 key in DIR (critical extendedKeyUsage timeStamping; Ed25519
cannot sign tokens with this openssl), listens on 127.0.0.1, prints ``listening on
127.0.0.1:PORT`` and answers each POST of ``application/timestamp-query`` with
``openssl ts -reply`` (serialised under a lock: openssl rewrites its serial file without
locking). Wrong content type: 415; empty or oversized body: 400; openssl failing: 500.
A rejection (e.g. SHA-1) is still openssl's 200 reply with a refusing status; clients must
check it. :func:`start` runs it as a recorded lab process (``heroes.lab.processes``) and
returns its URL and the CA file that verifiers trust. Reads no settings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from heroes.lab.processes import ProcessTable, ReadyCheck

GROUP = "tsa"
POLICY = "1.3.6.1.4.1.99999.1.1"
MAX_QUERY = 16384
CONFIG = f"""\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = .
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {POLICY}
other_policies = 1.3.6.1.4.1.99999.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def make_authority(directory: Path) -> Path:
    """CA, TSA key and certificate, config and serial in ``directory`` (kept if present);
    returns the CA certificate's path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "ca.pem"
    if ca_path.exists() and (directory / "tsa.pem").exists():
        return ca_path
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    later = now + dt.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "heroes lab root CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "heroes lab TSA")])
    tsa = (x509.CertificateBuilder().subject_name(tsa_name).issuer_name(ca_name)
           .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now).not_valid_after(later)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                        False), critical=True)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                          critical=True)
           .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()),
                          critical=False)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
               ca_key.public_key()), critical=False)
           .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "tsa.key").write_bytes(tsa_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (directory / "tsaserial").write_text("01\n")
    (directory / "tsa.cnf").write_text(CONFIG)
    ca_path.write_bytes(ca.public_bytes(pem))
    return ca_path


def handler_for(directory: Path) -> type[http.server.BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class TsaHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self._answer(415, b"expected application/timestamp-query\n", "text/plain")
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = 0
            if not 0 < length <= MAX_QUERY:
                self._answer(400, b"bad Content-Length\n", "text/plain")
                return
            body = self.rfile.read(length)
            with lock:
                done = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", "tsa.cnf", "-queryfile",
                     "/dev/stdin", "-out", "/dev/stdout"],
                    input=body, cwd=directory, capture_output=True, timeout=10, check=False)
            if done.returncode != 0:
                self._answer(500, done.stderr[-500:], "text/plain")
                return
            self._answer(200, done.stdout, "application/timestamp-reply")

        def _answer(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write("tsa: " + format % args + "\n")

    return TsaHandler


def serve(directory: Path, port: int) -> None:
    make_authority(directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler_for(directory))
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()


@dataclass(frozen=True)
class LabTsa:
    url: str
    ca_file: Path
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(lab_dir: Path, port: int = 0) -> LabTsa:
    """Run the TSA as a recorded lab process of ``lab_dir``; stop it with :func:`stop`."""
    directory = Path(lab_dir) / "tsa"
    ca = make_authority(directory)
    port = port or free_port()
    record = ProcessTable.of(lab_dir).start(
        "tsa", [sys.executable, "-m", "heroes.lab.tsa", "--dir", str(directory), "--port",
                str(port)],
        log=Path(lab_dir) / "tsa.log", group=GROUP, ports={"tsa": port},
        ready=ReadyCheck.tcp(port))
    return LabTsa(f"http://127.0.0.1:{port}/", ca, record.pid)


def stop(lab_dir: Path) -> list[str]:
    return ProcessTable.of(lab_dir).stop(group=GROUP)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The lab's RFC 3161 TSA on 127.0.0.1.")
    parser.add_argument("--dir", type=Path, required=True, help="CA, TSA key and config.")
    parser.add_argument("--port", type=int, default=0, help="Port (0: any free port).")
    args = parser.parse_args(argv)
    serve(args.dir, args.port)


if __name__ == "__main__":
    main()
