"""The ``heroes`` command line. Thin: it parses, loads settings once, and calls the packages.

Exit codes: 0 ok, 1 the command ran and found problems, 2 user error (bad config, input
or query), 3 a dependency is down (Tor, backend, SMTP), 130 interrupted.
"""

from __future__ import annotations

import importlib

from heroes.cli.app import main
from telemetry.python_heap import tune_garbage_collector

# Each module adds its commands to ``main`` when imported.
COMMAND_MODULES = [
    "config_cmd",
    "index_cmd",
    "search_cmd",
    "demo_cmd",
    "serve_cmd",
    "users_cmd",
    "audit_cmd",
    "purge_cmd",
    "extract_cmd",
    "hashes_cmd",
    "hashes_lists_cmd",
    "hashes_files_cmd",
    "hashes_feedback_cmd",
    "export_cmd",
    "alerts_cmd",
    "lab_cmd",
    "crawl_cmd",
    "probe_cmd",
    "evidence_cmd",
    "keys_cmd",
    "validate_cmd",
    "migrate_cmd",
    "peers_cmd",
    "sessions_cmd",
    "backup_cmd",
    "hunt_cmd",
    "analysis_cmd",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"heroes.cli.{_name}")



def entry() -> None:
    """The ``heroes`` executable and ``python -m heroes.cli``: the process's own settings,
    then the command line (tests that call ``main`` in their own process keep theirs)."""
    tune_garbage_collector()
    main()


__all__ = ["entry", "main"]
