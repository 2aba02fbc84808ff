"""``python -m heroes.cli``: the same as the ``heroes`` command."""

from heroes.cli import entry

entry()
