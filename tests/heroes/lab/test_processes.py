"""The lab's process table starts, records, waits for and reaps its processes."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

from heroes.lab.processes import (
    LabProcessError,
    ProcessTable,
    ReadyCheck,
    start_time_of,
    still_running,
)

# A process that listens on a port the test picks, says so in its log, and serves forever.
SERVER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("ready", flush=True)
while True:
    s.accept()[0].close()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gone(pid: int) -> bool:
    # Reaped: no /proc entry at all (a zombie would still have one).
    return start_time_of(pid) is None


def test_start_records_waits_and_stop_reaps_newest_first(tmp_path: Path) -> None:
    table = ProcessTable.of(tmp_path)
    web_port, other_port = _free_port(), _free_port()
    web = table.start("web", [sys.executable, "-c", SERVER, str(web_port)],
                      log=tmp_path / "web.log", group="web", ports={"http": web_port},
                      ready=ReadyCheck.tcp(web_port))
    sink = table.start("sink", [sys.executable, "-c", SERVER, str(other_port)],
                       log=tmp_path / "sink.log", group="smtp", ports={"smtp": other_port},
                       ready=ReadyCheck.log_line("ready"))
    # One file, one schema: everything a later `lab status` or `lab down` needs.
    body = json.loads(table.path.read_text())
    assert body["version"] == 1
    assert [p["name"] for p in body["processes"]] == ["web", "sink"]
    assert body["processes"][0]["ports"] == {"http": web_port}
    assert body["processes"][1]["ready"]["kind"] == "log"
    rows = {r["name"]: r for r in ProcessTable.of(tmp_path).status()}
    assert rows["web"]["alive"] and rows["web"]["ready"] is True
    assert rows["sink"]["alive"] and rows["sink"]["ready"] is True
    assert table.running("smtp") == [sink]

    assert table.stop(group="smtp") == ["sink"]
    assert _gone(sink.pid)
    assert [r.name for r in table.running()] == ["web"]
    assert table.stop() == ["web"]
    assert _gone(web.pid)
    records = table.records()
    assert all(r.stopped_at is not None for r in records)
    assert still_running(records) == []
    # Stopping again touches nothing; a new `up` starts from an empty table.
    assert table.stop() == []
    table.forget_stopped()
    assert table.records() == []


def test_a_process_that_dies_before_ready_is_named_with_its_log(tmp_path: Path) -> None:
    table = ProcessTable.of(tmp_path)
    argv = [sys.executable, "-c", "import sys; print('no config for the test'); sys.exit(4)"]
    with pytest.raises(LabProcessError) as caught:
        table.start("broken", argv, log=tmp_path / "broken.log", group="x",
                    ready=ReadyCheck.tcp(_free_port()), timeout_s=30)
    assert "broken exited" in str(caught.value)
    assert "no config for the test" in str(caught.value)
    (record,) = table.records()
    assert record.stopped_at is not None and _gone(record.pid)


def test_a_process_that_never_gets_ready_is_stopped(tmp_path: Path) -> None:
    table = ProcessTable.of(tmp_path)
    argv = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]
    with pytest.raises(LabProcessError, match="not ready in 1s"):
        table.start("mute", argv, log=tmp_path / "mute.log", group="x",
                    ready=ReadyCheck.log_line("ready"), timeout_s=1)
    (record,) = table.records()
    assert _gone(record.pid)


def test_a_reused_pid_is_not_signalled(tmp_path: Path) -> None:
    table = ProcessTable.of(tmp_path)
    record = table.start("s", [sys.executable, "-c", SERVER, str(_free_port())],
                         log=tmp_path / "s.log", group="x", ready=ReadyCheck.log_line("ready"))
    # The same pid with another start time is somebody else's process now.
    body = json.loads(table.path.read_text())
    body["processes"][0]["start_time"] += 1
    table.path.write_text(json.dumps(body))
    assert table.stop() == []
    assert start_time_of(record.pid) == record.start_time
    os.kill(record.pid, 9)
    os.waitpid(record.pid, 0)


def test_an_unreadable_table_is_named(tmp_path: Path) -> None:
    table = ProcessTable.of(tmp_path)
    table.path.write_text("{not json")
    with pytest.raises(LabProcessError, match=r"processes\.json"):
        table.records()
