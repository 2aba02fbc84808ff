"""Real Elasticsearch nodes for tests and benchmarks (one, or N as one cluster), from the test zip.

Elasticsearch publishes its own test distribution on Maven Central
(``org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip``). It carries
no JDK and lacks the ingest, painless, data-stream and reindex modules; the backend needs
none of them. This module:

- ``fetch``: downloads the zip with Maven into a cache directory and unpacks it (once;
  later calls reuse the cache). Runs before the tests enter the loopback-only namespace::

      python -m heroes.lab.elasticsearch_node fetch --version 9.3.2 --cache .cache/elasticsearch

- :func:`start_cluster`: runs N nodes on 127.0.0.1 as an unprivileged user (Elasticsearch
  refuses root), security off, a 512 MiB heap each, with a JDK 21+ found under
  ``/usr/lib/jvm``; one node is a ``single-node`` cluster, several discover each other on
  their transport ports (bootstrapped from all of them on the very first boot only); waits
  until all N have joined and health is yellow; :meth:`ClusterHandle.stop` reaps them.
  :func:`start_node` is the one-node case. Each node has its own directory (config copy,
  data, logs) and is recorded in its ``processes.json`` (group ``elasticsearch``,
  :mod:`heroes.lab.processes`), so whatever outlives its starter can be found and stopped;
  :meth:`NodeHandle.kill` and :meth:`NodeHandle.start` crash and restart one node on its data.

Reads no settings: the caller passes directories and the port.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from heroes.lab.processes import LabProcess, ProcessTable, ReadyCheck, is_alive, wait_exit

log = logging.getLogger(__name__)

GROUP_ID = "org.elasticsearch.distribution.integ-test-zip"
ARTIFACT_ID = "elasticsearch"
DEFAULT_VERSION = "9.3.2"
# The Python client 9.x only talks to 9.x servers (it sends compatible-with=9).
SUPPORTED_MAJOR = 9
MIN_JAVA = 21
JVM_ROOT = Path("/usr/lib/jvm")
RUN_USER = "heroes-es"
GROUP = "elasticsearch"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HEAP = "512m"


class NodeError(Exception):
    """The test node cannot be fetched or started; the message says why and what to do."""


# --- fetch -------------------------------------------------------------------------------


def home_of(cache_dir: Path, version: str) -> Path:
    return Path(cache_dir) / f"elasticsearch-{version}"


def cached_versions(cache_dir: Path) -> list[str]:
    """Versions already unpacked in the cache, newest first."""
    found = []
    for path in Path(cache_dir).glob("elasticsearch-*"):
        if (path / "bin" / "elasticsearch").is_file():
            found.append(path.name.removeprefix("elasticsearch-"))
    return sorted(found, key=_version_key, reverse=True)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def fetch(version: str, cache_dir: Path) -> Path:
    """The unpacked distribution of ``version``, downloading it with Maven when not cached."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise NodeError(f"--version {version!r} is not of the form MAJOR.MINOR.PATCH")
    if int(version.split(".")[0]) != SUPPORTED_MAJOR:
        raise NodeError(f"--version {version!r}: the pinned client (elasticsearch-py 9) talks "
                        f"only to Elasticsearch {SUPPORTED_MAJOR}.x")
    cache_dir = Path(cache_dir).resolve()
    home = home_of(cache_dir, version)
    if (home / "bin" / "elasticsearch").is_file():
        log.info("elasticsearch %s already in %s", version, home)
        return home
    mvn = shutil.which("mvn")
    if mvn is None:
        raise NodeError("Maven (mvn) is not installed: `make system-packages` installs it")
    cache_dir.mkdir(parents=True, exist_ok=True)
    zip_path = cache_dir / f"{ARTIFACT_ID}-{version}.zip"
    if not zip_path.is_file():
        artifact = f"{GROUP_ID}:{ARTIFACT_ID}:{version}:zip"
        # -U: Maven otherwise remembers an earlier "not found" and will not ask again.
        cmd = [mvn, "-q", "-B", "-U", "dependency:copy", f"-Dartifact={artifact}",
               f"-DoutputDirectory={cache_dir}"]
        with tempfile.TemporaryDirectory() as empty:  # no pom.xml of ours in the way
            proc = subprocess.run(cmd, cwd=empty, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not zip_path.is_file():
            raise NodeError(f"Maven could not fetch {artifact} (exit {proc.returncode}): "
                            f"{_maven_reason(proc.stdout + proc.stderr)} - check that this "
                            "version is published, or that Maven Central is reachable")
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache_dir))
    try:
        proc = subprocess.run(["unzip", "-q", "-o", str(zip_path), "-d", str(staging)],
                              capture_output=True, text=True, check=False)
        unpacked = staging / f"elasticsearch-{version}"
        if proc.returncode != 0 or not (unpacked / "bin" / "elasticsearch").is_file():
            zip_path.unlink(missing_ok=True)  # a broken download is fetched again next time
            why = proc.stderr.strip() or "no bin/elasticsearch in it"
            raise NodeError(f"cannot unpack {zip_path}: {why}")
        # Rename last, so a half-unpacked tree never looks like a cached one.
        unpacked.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("elasticsearch %s unpacked into %s", version, home)
    return home


def _maven_reason(output: str) -> str:
    """The telling line of Maven's output (it buries it among help boilerplate)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    for line in plain.splitlines():
        if "Failed to execute goal" in line or "Could not" in line:
            return line.removeprefix("[ERROR] ").strip()
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    return lines[0] if lines else "no output"


# --- JDK and user ------------------------------------------------------------------------


def _java_major(jdk: Path) -> int | None:
    try:
        text = (jdk / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="(\d+)', text, re.MULTILINE)
    return int(found.group(1)) if found else None


def find_jdk(root: Path = JVM_ROOT) -> Path:
    """The newest JDK of at least version 21 under ``root`` (Temurin preferred on a tie)."""
    candidates = []
    for jdk in sorted(root.glob("*")):
        if jdk.is_symlink() or not (jdk / "bin" / "java").is_file():
            continue
        major = _java_major(jdk)
        if major is not None and major >= MIN_JAVA:
            candidates.append((major, "temurin" in jdk.name, jdk))
    if not candidates:
        raise NodeError(f"no JDK {MIN_JAVA}+ under {root} (Elasticsearch 9 needs one; "
                        "install e.g. the Temurin 25 JDK)")
    return max(candidates)[2]


def _tool(name: str) -> str:
    found = shutil.which(name, path=SYSTEM_PATH)
    if found is None:
        raise NodeError(f"{name!r} not found in {SYSTEM_PATH} (util-linux/passwd are needed to run "
                        "Elasticsearch as an unprivileged user)")
    return found


def ensure_user(name: str = RUN_USER) -> pwd.struct_passwd:
    """The unprivileged account the node runs as, created when missing."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    proc = subprocess.run(
        [_tool("useradd"), "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True, check=False,
    )
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise NodeError(f"cannot create user {name!r} to run Elasticsearch (it refuses root): "
                        f"{proc.stderr.strip()}") from None


# --- the running node --------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class NodeHandle:
    """A node (see :meth:`start`); :meth:`stop` reaps it. Usable as a context manager."""

    home: Path
    data_dir: Path
    port: int
    argv: list[str] = field(repr=False)
    env: dict[str, str] = field(repr=False)
    stdout_path: Path = field(repr=False)
    process: LabProcess | None = field(default=None, repr=False)
    # Settings for the very first boot only (cluster bootstrapping): a node restarted with
    # them warns that they risk data loss.
    first_boot_args: list[str] = field(default_factory=list, repr=False)
    name: str = "heroes-test"

    @property
    def table(self) -> ProcessTable:
        return ProcessTable.of(self.data_dir)

    def start(self, deadline_s: float = 120.0) -> None:
        """Start (or restart, on the same data and port) and wait until it is yellow."""
        if self.running():
            return
        self.launch()
        self.wait_ready(deadline_s)

    def launch(self) -> None:
        """Start the process without waiting for it (see :meth:`wait_ready`)."""
        if self.running():
            return
        argv = [*self.argv, *self.first_boot_args]
        self.first_boot_args = []
        self.process = self.table.start(
            "elasticsearch", argv, log=self.stdout_path, group=GROUP,
            ports={"http": self.port}, cwd=self.data_dir, env=self.env,
            ready=ReadyCheck.owner("cluster health yellow"))
        log.info("elasticsearch %s starting on %s (pid %d)", self.name, self.url,
                 self.process.pid)

    def kill(self) -> None:
        """SIGKILL the node's process group (a crash), and reap it; :meth:`start` revives it."""
        if self.process is not None:
            if is_alive(self.process):
                # The whole group (runuser, launcher and server JVM), with no SIGTERM first.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            self.table.stop(records=[self.process], grace_s=0.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.process is not None and is_alive(self.process)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the node's console output (errors, stack traces), for failure messages."""
        try:
            text = self.stdout_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no output)"
        return f"--- {self.stdout_path} (last {lines} lines)\n" + "\n".join(text[-lines:])

    def health(self, wait_for: str = "yellow", timeout_s: float = 1.0) -> dict[str, object] | None:
        """Cluster health, or None while the node does not answer."""
        query = f"wait_for_status={wait_for}&timeout={int(timeout_s * 1000)}ms"
        url = f"{self.url}/_cluster/health?{query}"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s + 2) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def wait_ready(self, deadline_s: float = 120.0) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if not self.running():
                raise NodeError(f"elasticsearch exited before it was ready\n{self.log_tail()}")
            health = self.health()
            if health and health.get("status") in ("yellow", "green"):
                return
            # A poll interval, not synchronisation: the condition is re-checked each time.
            time.sleep(0.25)
        self.stop()
        raise NodeError(f"elasticsearch not yellow within {deadline_s:.0f}s\n{self.log_tail()}")

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the node (SIGTERM to its process group, then SIGKILL) and reap it."""
        if self.process is not None:
            self.table.stop(records=[self.process], grace_s=timeout_s)

    def wait(self) -> None:
        """Until the node exits."""
        if self.process is not None:
            wait_exit(self.process)

    def __enter__(self) -> NodeHandle:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _check_access(user: str | None, path: Path, mode: str) -> None:
    if user is None:
        return
    proc = subprocess.run([_tool("runuser"), "-u", user, "--", "test", f"-{mode}", str(path)],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        what = "write" if mode == "w" else "read"
        raise NodeError(f"user {user!r} cannot {what} {path}: every parent directory needs to be "
                        "searchable by it (use a directory under /tmp, not a private one)")


@dataclass
class ClusterHandle:
    """Nodes started as one cluster (see :func:`start_cluster`); :meth:`stop` reaps them all."""

    nodes: list[NodeHandle]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def health(self, wait_for: str = "yellow", timeout_s: float = 1.0
               ) -> dict[str, object] | None:
        """Cluster health asked of the first node that answers, or None."""
        for node in self.nodes:
            if node.running():
                health = node.health(wait_for, timeout_s)
                if health is not None:
                    return health
        return None

    def wait_ready(self, deadline_s: float = 120.0, status: str = "yellow") -> None:
        """Until every node has joined and health is ``status`` (or better)."""
        wanted = ("green",) if status == "green" else ("yellow", "green")
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            for node in self.nodes:
                if not node.running():
                    raise NodeError(f"elasticsearch {node.name} exited before the cluster was "
                                    f"ready\n{node.log_tail()}")
            health = self.health(status)
            if (health and health.get("status") in wanted
                    and health.get("number_of_nodes") == len(self.nodes)):
                return
            # A poll interval, not synchronisation: the condition is re-checked each time.
            time.sleep(0.25)
        tails = "\n".join(node.log_tail(15) for node in self.nodes)
        self.stop()
        raise NodeError(f"{len(self.nodes)} elasticsearch nodes not {status} and joined within "
                        f"{deadline_s:.0f}s\n{tails}")

    def stop(self, timeout_s: float = 30.0) -> None:
        for node in self.nodes:
            node.stop(timeout_s)

    def __enter__(self) -> ClusterHandle:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_node(cache_dir: Path, data_dir: Path, port: int = 0, *, version: str | None = None,
               heap: str = HEAP, deadline_s: float = 120.0) -> NodeHandle:
    """Start a single node on 127.0.0.1 and wait until it is yellow.

    ``data_dir`` receives the node's config copy, data and logs; ``port`` 0 picks a free one.
    Raises :class:`NodeError` (with the node's log) when it cannot be had.
    """
    cluster = start_cluster(cache_dir, data_dir, 1, ports=[port], version=version, heap=heap,
                            deadline_s=deadline_s)
    return cluster.nodes[0]


def start_cluster(cache_dir: Path, data_dir: Path, nodes: int = 3, *,
                  ports: list[int] | None = None, version: str | None = None, heap: str = HEAP,
                  deadline_s: float = 180.0, name: str = "heroes-test") -> ClusterHandle:
    """Start ``nodes`` nodes on 127.0.0.1 as one cluster and wait until all joined, yellow.

    One node keeps its files in ``data_dir`` itself; several in ``data_dir/n1`` ... ``nN``.
    ``ports`` are the HTTP ports (0 or missing: a free one). Raises :class:`NodeError` (with
    the nodes' logs) when the cluster cannot be had.
    """
    if nodes < 1:
        raise NodeError(f"a cluster needs at least one node, not {nodes!r}")
    home = _home(Path(cache_dir).resolve(), version)
    jdk = find_jdk()
    data_dir = Path(data_dir).resolve()
    wanted = list(ports or [])
    http = [(wanted[i] if i < len(wanted) else 0) or free_port() for i in range(nodes)]
    transport = [free_port() for _ in range(nodes)]
    names = [name] if nodes == 1 else [f"n{i + 1}" for i in range(nodes)]
    dirs = [data_dir] if nodes == 1 else [data_dir / n for n in names]
    if nodes > 1:
        # The nodes' account must pass through the shared parent (mkdtemp makes it 0700).
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(data_dir.stat().st_mode | 0o011)
    handles = []
    for i in range(nodes):
        settings = {
            "network.host": "127.0.0.1",
            "http.port": str(http[i]),
            "transport.port": str(transport[i]),
            "xpack.security.enabled": "false",
            "path.data": str(dirs[i] / "data"),
            "path.logs": str(dirs[i] / "logs"),
            # A shared test machine may be short of disk: never turn indices read-only for that.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "node.name": names[i],
            "cluster.name": name,
        }
        first_boot: dict[str, str] = {}
        if nodes == 1:
            settings["discovery.type"] = "single-node"
        else:
            settings["discovery.seed_hosts"] = ",".join(f"127.0.0.1:{p}" for p in transport)
            first_boot["cluster.initial_master_nodes"] = ",".join(names)
        handles.append(_node(home, jdk, dirs[i], http[i], settings, first_boot, heap))
    log.info("elasticsearch %s in %s, JDK %s, %d node(s)", home.name, home, jdk, nodes)
    cluster = ClusterHandle(handles)
    for node in handles:
        node.launch()
    cluster.wait_ready(deadline_s)
    return cluster


def _home(cache_dir: Path, version: str | None) -> Path:
    if version is None:
        versions = [v for v in cached_versions(cache_dir) if _version_key(v)[0] == SUPPORTED_MAJOR]
        if not versions:
            raise NodeError(f"no Elasticsearch {SUPPORTED_MAJOR}.x in {cache_dir}: run "
                            "`make es-node` (python -m heroes.lab.elasticsearch_node fetch) first")
        version = versions[0]
    home = home_of(cache_dir, version)
    if not (home / "bin" / "elasticsearch").is_file():
        raise NodeError(f"{home} is not an unpacked Elasticsearch: run `make es-node` first")
    return home


def _node(home: Path, jdk: Path, node_dir: Path, port: int, settings: dict[str, str],
          first_boot: dict[str, str], heap: str) -> NodeHandle:
    """One node's directories, account and command line (not started)."""
    for sub in ("data", "logs", "tmp"):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    conf = node_dir / "config"
    if not conf.exists():
        # Its own writable copy: Elasticsearch writes its keystore there.
        shutil.copytree(home / "config", conf)
    user = None
    if os.geteuid() == 0:
        account = ensure_user()
        user = account.pw_name
        for path in (node_dir, *node_dir.rglob("*")):
            os.chown(path, account.pw_uid, account.pw_gid)
        _check_access(user, home / "bin" / "elasticsearch", "r")
        _check_access(user, node_dir, "w")
    argv = [str(home / "bin" / "elasticsearch"), *(f"-E{k}={v}" for k, v in settings.items())]
    env = {
        "PATH": SYSTEM_PATH,
        "ES_JAVA_HOME": str(jdk),
        "ES_PATH_CONF": str(conf),
        "ES_TMPDIR": str(node_dir / "tmp"),
        "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        "LANG": "C.UTF-8",
    }
    if user is not None:
        env_args = [f"{k}={v}" for k, v in env.items()]
        argv = [_tool("runuser"), "-u", user, "--", "env", *env_args, *argv]
    return NodeHandle(home=home, data_dir=node_dir, port=port, argv=argv, env=env,
                      stdout_path=node_dir / "stdout.log",
                      first_boot_args=[f"-E{k}={v}" for k, v in first_boot.items()],
                      name=settings["node.name"])


# --- command line ------------------------------------------------------------------------


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m heroes.lab.elasticsearch_node",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_p = sub.add_parser("fetch", help="download and unpack the test distribution (cached)")
    fetch_p.add_argument("--version", default=DEFAULT_VERSION)
    fetch_p.add_argument("--cache", type=Path, default=Path(".cache/elasticsearch"))
    run_p = sub.add_parser("run", help="start a node in the foreground until interrupted")
    run_p.add_argument("--cache", type=Path, default=Path(".cache/elasticsearch"))
    run_p.add_argument("--data-dir", type=Path, required=True)
    run_p.add_argument("--port", type=int, default=9200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    try:
        if args.command == "fetch":
            home = fetch(args.version, args.cache)
            sys.stdout.write(f"{home}\n")
            return 0
        node = start_node(args.cache, args.data_dir, args.port)
        sys.stdout.write(f"elasticsearch ready at {node.url}\n")
        sys.stdout.flush()
        # SIGTERM as well as Ctrl-C stops the node (a background shell ignores SIGINT).
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            node.wait()
        except KeyboardInterrupt:
            pass
        finally:
            node.stop()
        return 0
    except NodeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 3


if __name__ == "__main__":
    raise SystemExit(_main())
