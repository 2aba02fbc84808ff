"""The application shell: the ``heroes`` CLI, the analyst console and the lab world."""

__version__ = "0.1.0"
