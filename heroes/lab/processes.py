"""Every lab process, started, recorded and stopped in one place with one state schema.

The lab world runs its parts as detached processes (they outlive ``heroes lab up``): tor
daemons, the web servers of the onion sites, swarm peers and trackers, the SMTP sink, an
Elasticsearch node. Each is described by one typed record, :class:`LabProcess` (name, the
part of the world it belongs to, pid and start time, ports, log path, ready check), and a
directory's records live in one file, ``<dir>/processes.json``
(:class:`ProcessTable`), which ``heroes lab status`` and ``heroes lab down`` read. Records
stay in the file after their process stopped (with ``stopped_at``), so anyone can check
afterwards that nothing is left running; the next ``up`` starts a new table.

A pid alone is not enough to stop a process safely: after a reboot or a crash the number
may belong to something else. Each record therefore keeps the start time from
``/proc/PID/stat``, and only processes whose start time still matches are signalled.

Adding a lab process (a Time Stamping Authority, Redis, ...) is one call in the module that
owns it::

    table = ProcessTable.of(lab_dir)
    table.start("redis", ["redis-server", "--port", str(port)], log=lab_dir / "redis.log",
                group="redis", ports={"redis": port}, ready=ReadyCheck.tcp(port))

``start`` spawns it detached, records it before waiting, and waits for the ready check
(a TCP port that accepts, a line in its log, or nothing: the owner then waits with
:meth:`ProcessTable.wait_until`); a process that exits or does not get ready in time is
stopped and raises :class:`LabProcessError` with the end of its log. ``stop(group=...)``
stops one part, ``stop()`` everything, newest first. Then add the part to
:func:`heroes.lab.world.up` (and its ``status``) if ``heroes lab up`` should start it.
Reads no settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

PROCESSES_FILE = "processes.json"
SCHEMA_VERSION = 1
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0


class LabProcessError(Exception):
    """A lab process could not be started, or its record could not be read."""


@dataclass(frozen=True)
class ReadyCheck:
    """How a process shows it is ready: a TCP port accepting, a log line, or its owner's word."""

    kind: Literal["tcp", "log", "owner"] = "owner"
    port: int = 0
    host: str = "127.0.0.1"
    text: str = ""

    @classmethod
    def tcp(cls, port: int, host: str = "127.0.0.1") -> ReadyCheck:
        return cls("tcp", port=port, host=host)

    @classmethod
    def log_line(cls, text: str) -> ReadyCheck:
        return cls("log", text=text)

    @classmethod
    def owner(cls, what: str) -> ReadyCheck:
        """Checked by the module that starts the process (``what`` says what it waits for)."""
        return cls("owner", text=what)

    def met(self, log: Path) -> bool | None:
        """True/False for checks this module can make, None for the owner's own check."""
        if self.kind == "tcp":
            with contextlib.suppress(OSError), socket.create_connection(
                (self.host, self.port), timeout=0.5
            ):
                return True
            return False
        if self.kind == "log":
            try:
                return self.text in log.read_text(errors="replace")
            except OSError:
                return False
        return None


@dataclass(frozen=True)
class LabProcess:
    """One recorded lab process."""

    name: str
    group: str
    pid: int
    start_time: int
    log: str
    ports: dict[str, int] = field(default_factory=dict)
    ready: ReadyCheck = field(default_factory=ReadyCheck)
    argv: tuple[str, ...] = ()
    started_at: float = 0.0
    stopped_at: float | None = None

    def alive(self) -> bool:
        return is_alive(self)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabProcess:
        values = dict(data)
        values["ready"] = ReadyCheck(**values.get("ready", {}))
        values["argv"] = tuple(values.get("argv", ()))
        return cls(**values)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; everything after the last ')' is fixed.
    return raw[raw.rindex(")") + 2 :].split()


def start_time_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    # Field 22 (starttime) is index 19 after dropping pid and comm.
    return int(fields[19]) if fields else None


def is_alive(record: LabProcess) -> bool:
    fields = _stat_fields(record.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == record.start_time


# Popen objects of processes started by this interpreter, so that stopping them also reaps them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def spawn(
    name: str,
    argv: Sequence[str],
    log: Path,
    cwd: Path | None = None,
    *,
    group: str = "",
    ports: Mapping[str, int] | None = None,
    ready: ReadyCheck | None = None,
    env: Mapping[str, str] | None = None,
) -> LabProcess:
    """Start ``argv`` detached from our session (it outlives the command); not recorded."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        except OSError as exc:
            raise LabProcessError(f"{name}: cannot start {argv[0]!r}: {exc}") from exc
    _CHILDREN[proc.pid] = proc
    started = start_time_of(proc.pid)
    if started is None:
        raise LabProcessError(f"{name}: process {proc.pid} exited at once; see {log}")
    return LabProcess(name, group or name, proc.pid, started, str(log), dict(ports or {}),
                      ready or ReadyCheck(), tuple(argv), time.time())


def _reap(pid: int) -> None:
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)
            return
        _CHILDREN[pid] = proc
        return
    # Another interpreter's child is reaped by its parent (or init); ours by waitpid.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _signal(record: LabProcess, sig: int) -> None:
    # Each process leads its own session (spawn), so its helpers (runuser's java, ...) get
    # the signal too; a process that left its group is signalled alone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, sig)
        else:
            os.kill(record.pid, sig)


def wait_exit(record: LabProcess, poll_s: float = 0.2) -> None:
    """Until the process exits (reaped when this interpreter started it)."""
    proc = _CHILDREN.get(record.pid)
    if proc is not None:
        proc.wait()
        _CHILDREN.pop(record.pid, None)
        return
    while is_alive(record):
        time.sleep(poll_s)


def stop(records: Sequence[LabProcess], grace_s: float = STOP_GRACE_S) -> list[str]:
    """SIGTERM each live record, SIGKILL what is left after ``grace_s``; returns names stopped."""
    live = [r for r in records if is_alive(r)]
    for record in live:
        _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    pending = list(live)
    while pending and time.monotonic() < deadline:
        for record in pending:
            _reap(record.pid)
        pending = [r for r in pending if is_alive(r)]
        if pending:
            time.sleep(0.05)
    for record in pending:
        _signal(record, signal.SIGKILL)
    # Every one of our children among them is reaped, also those that had exited already.
    for record in records:
        proc = _CHILDREN.get(record.pid)
        if proc is not None and (record in live or proc.poll() is not None):
            _CHILDREN.pop(record.pid)
            proc.wait(timeout=5)
        elif proc is None and record in live:
            _reap(record.pid)
    return [r.name for r in live]


def log_tail(path: str | Path, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def still_running(records: Iterable[LabProcess]) -> list[str]:
    """Names of the records whose process still runs (same pid and start time)."""
    return [r.name for r in records if is_alive(r)]


class ProcessTable:
    """The records of every process started for one lab directory (``processes.json``)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def of(cls, directory: Path) -> ProcessTable:
        return cls(Path(directory) / PROCESSES_FILE)

    def records(self, group: str | None = None) -> list[LabProcess]:
        """Every record, oldest first (of one ``group`` if given)."""
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text())
            records = [LabProcess.from_json(p) for p in data["processes"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LabProcessError(f"{self.path}: unreadable lab process table: {exc}") from exc
        return [r for r in records if group is None or r.group == group]

    def running(self, group: str | None = None) -> list[LabProcess]:
        return [r for r in self.records(group) if r.stopped_at is None and is_alive(r)]

    def _save(self, records: Sequence[LabProcess]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {"version": SCHEMA_VERSION, "processes": [r.to_json() for r in records]}
        tmp.write_text(json.dumps(body, indent=1))
        tmp.replace(self.path)

    def _add(self, record: LabProcess) -> None:
        self._save([*self.records(), record])

    def forget_stopped(self) -> None:
        """Drop the records of processes that no longer run (a new ``up`` begins)."""
        self._save([r for r in self.records() if r.stopped_at is None and is_alive(r)])

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log: Path,
        group: str,
        ports: Mapping[str, int] | None = None,
        ready: ReadyCheck | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float = READY_TIMEOUT_S,
    ) -> LabProcess:
        """Start, record, and wait for the ready check (see the module docstring)."""
        record = spawn(name, argv, log, cwd, group=group, ports=ports, ready=ready, env=env)
        self._add(record)
        if record.ready.kind != "owner":
            self.wait_until(lambda: bool(record.ready.met(Path(record.log))), [record],
                            f"{name} ready ({record.ready.kind} check)", timeout_s)
        return record

    def wait_until(
        self,
        condition: Callable[[], bool],
        records: Sequence[LabProcess],
        what: str,
        timeout_s: float,
        poll_s: float = 0.1,
    ) -> None:
        """Wait for ``condition``; if one of ``records`` exits or time runs out, stop them
        and raise :class:`LabProcessError` with their logs."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            dead = [r for r in records if not is_alive(r)]
            if dead or time.monotonic() > deadline:
                self.stop(records=records)
                problem = f"{dead[0].name} exited" if dead else f"not ready in {timeout_s:.0f}s"
                logs = "\n".join(f"--- {r.log}\n{log_tail(r.log)}" for r in (dead or records))
                raise LabProcessError(f"waiting for {what}: {problem}\n{logs}")
            time.sleep(poll_s)

    def stop(
        self,
        *,
        group: str | None = None,
        records: Sequence[LabProcess] | None = None,
        grace_s: float = STOP_GRACE_S,
    ) -> list[str]:
        """Stop the recorded processes (of ``group``, or the given ``records``), newest
        first; returns the names of those that were still running. Their records stay,
        marked stopped."""
        wanted = None if records is None else {(r.pid, r.start_time) for r in records}
        table = self.records()
        chosen = [r for r in table if r.stopped_at is None
                  and (group is None or r.group == group)
                  and (wanted is None or (r.pid, r.start_time) in wanted)]
        stopped = stop(list(reversed(chosen)), grace_s)
        now = time.time()
        keys = {(r.pid, r.start_time) for r in chosen}
        self._save([replace(r, stopped_at=now) if (r.pid, r.start_time) in keys else r
                    for r in table])
        return stopped

    def status(self) -> list[dict[str, Any]]:
        """One line per record: name, group, pid, ports, log, alive, ready (when checkable)."""
        rows = []
        for r in self.records():
            alive = r.stopped_at is None and is_alive(r)
            rows.append({"name": r.name, "group": r.group, "pid": r.pid, "ports": r.ports,
                         "log": r.log, "alive": alive,
                         "ready": r.ready.met(Path(r.log)) if alive else False})
        return rows
