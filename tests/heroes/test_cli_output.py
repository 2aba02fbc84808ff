"""Output streams of the CLI: results on stdout; stderr only warnings and errors unless -v.

Each command runs as its own process, so stdout and stderr are the real streams and the
logging set-up is the one a user gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heroes.cli.app import effective_level

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    {
        "kind": "page",
        "url": "http://marketabc.onion/item/1",
        "title": "Green tea market",
        "text": "Loose leaf tea for sale, escrow accepted",
        "fetched_at": "2026-11-28T12:00:00Z",
    },
    {
        "kind": "page",
        "url": "http://forumxyz.onion/t/2",
        "title": "General discussion",
        "text": "weather and gardening",
        "fetched_at": "2026-11-27T08:30:00Z",
    },
]
RULE = """
[[alerts.rules]]
name = "tea-watch"
type = "keyword"
query = "tea"
severity = "low"
"""


def heroes(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    return subprocess.run(
        [sys.executable, "-m", "heroes.cli", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def installation(tmp_path: Path, smtp_host: str) -> Path:
    """A small installation with one alert rule (no document yet); returns its config."""
    config = tmp_path / "heroes.toml"
    config.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        f"[smtp]\nhost = {json.dumps(smtp_host)}\n" + RULE
    )
    return config


def ingest(config: Path, *options: str) -> subprocess.CompletedProcess[str]:
    docs = config.parent / "pages.jsonl"
    docs.write_text("".join(json.dumps(p) + "\n" for p in PAGES))
    done = heroes(config, *options, "index", "ingest", str(docs))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "spooled 2 documents" in done.stdout
    return done


@pytest.fixture
def quiet_install(tmp_path: Path) -> Path:
    # An SMTP host is configured, so nothing deserves a warning (no mail is sent here).
    return installation(tmp_path, "127.0.0.1")


def test_search_and_ingest_print_results_only(quiet_install: Path) -> None:
    # The drain behind ingest builds the alert stage: info, so not shown by default.
    assert ingest(quiet_install).stderr == ""
    done = heroes(quiet_install, "search", "tea")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "1 page documents match" in done.stdout
    assert "marketabc.onion" in done.stdout


def test_verbose_shows_the_info_lines_on_stderr(quiet_install: Path) -> None:
    done = ingest(quiet_install, "-v")
    lines = done.stderr.splitlines()
    assert any(" INFO " in line and "alerts" in line for line in lines), done.stderr
    assert all(" INFO " in line for line in lines), done.stderr
    assert " INFO " not in done.stdout
    quiet = heroes(quiet_install, "search", "tea")
    for verbose in ("-v", "-vv", "--verbose"):
        loud = heroes(quiet_install, verbose, "search", "tea")
        assert loud.returncode == 0, loud.stderr
        assert loud.stdout == quiet.stdout


def test_a_warning_shows_without_verbose(tmp_path: Path) -> None:
    # Alert rules with no SMTP host: the drain warns that alert email waits in the outbox.
    done = ingest(installation(tmp_path, ""))
    lines = done.stderr.splitlines()
    assert lines and all(" WARNING " in line for line in lines), done.stderr
    assert any("smtp.host is empty" in line for line in lines), done.stderr


def test_log_level_sets_the_level_outright(quiet_install: Path) -> None:
    done = ingest(quiet_install, "-v", "--log-level", "ERROR")
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("configured", "verbose", "level"),
    [
        ("WARNING", 0, "WARNING"),
        ("WARNING", 1, "INFO"),
        ("WARNING", 2, "DEBUG"),
        ("WARNING", 5, "DEBUG"),
        ("INFO", 0, "INFO"),
        ("DEBUG", 1, "DEBUG"),
        ("ERROR", 0, "ERROR"),
        ("ERROR", 1, "INFO"),
    ],
)
def test_verbosity_lowers_the_configured_level(configured: str, verbose: int, level: str) -> None:
    assert effective_level(configured, verbose) == level


def test_crawl_progress_is_logged_at_info_not_printed(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    from heroes.cli.crawl_cmd import progress

    with caplog.at_level(logging.INFO, logger="heroes.cli.crawl_cmd"):
        progress({"pages": 7, "hosts": 2, "errors": 1, "rate": 3.5, "elapsed_s": 2.0})
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == "pages 7  services 2  errors 1  3.5 pages/s  2.0 s"
    assert capsys.readouterr() == ("", "")


def test_crawl_refusal_goes_to_stderr_only(quiet_install: Path) -> None:
    done = heroes(quiet_install, "crawl")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: no seeds")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_first_line(config: Path, *options: str) -> tuple[str, str]:
    """(first stdout line, stderr) of ``heroes serve``, stopped once it has printed."""
    import selectors
    import signal
    import time

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "heroes.cli", "--config", str(config), *options, "serve",
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 60
            while not sel.select(timeout=1.0):
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "serve printed nothing within 60 s"
            first = proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return first, err


def test_serve_prints_where_the_console_is_on_stdout(quiet_install: Path) -> None:
    first, err = _serve_first_line(quiet_install)
    assert first.startswith("console on http://127.0.0.1:"), first
    assert " INFO " not in err and "console on" not in err, err


def test_demo_follows_the_root_verbosity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    import heroes.demo
    import heroes.lab.extra
    from heroes.cli import main

    asked: list[str] = []
    monkeypatch.setattr(heroes.lab.extra, "require", lambda: None)
    monkeypatch.setattr(heroes.demo, "run_full",
                        lambda data, *, say, base_port, log_level: asked.append(log_level))
    monkeypatch.delenv("HEROES_LOG_LEVEL", raising=False)
    for options in ([], ["-v"], ["-vv"], ["-v", "--log-level", "ERROR"]):
        data = tmp_path / f"demo{len(asked)}"
        done = CliRunner().invoke(main, [*options, "--data-dir", str(data), "demo"])
        assert done.exit_code == 0, done.output
    assert asked == ["WARNING", "INFO", "DEBUG", "ERROR"]
