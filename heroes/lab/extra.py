"""What the lab world needs at run time that a deployment does not: the ``heroes[lab]`` extra.

:func:`require` names every missing module and how to install it; ``heroes lab up``,
``heroes demo`` and the lab's own processes call it before they start anything, so a
deployment without the extra gets one clear sentence instead of a traceback. Reads no
settings.
"""

from __future__ import annotations

import importlib.util

# module -> what the lab uses it for
LAB_MODULES = {"aiosmtpd": "the lab SMTP sink"}
INSTALL_HINT = "pip install 'heroes[lab]'"


class LabExtraMissing(Exception):
    """A module of the ``heroes[lab]`` extra is not installed."""


def missing() -> list[str]:
    return [name for name in LAB_MODULES if importlib.util.find_spec(name) is None]


def require() -> None:
    absent = missing()
    if absent:
        what = ", ".join(f"{name} ({LAB_MODULES[name]})" for name in absent)
        raise LabExtraMissing(f"the lab world needs {what}, which is not installed: "
                              f"{INSTALL_HINT}")
