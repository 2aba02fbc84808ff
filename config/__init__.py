"""Settings for every component: one typed schema, loaded and validated once, then frozen.

Precedence is defaults < config file < environment (``HEROES_SECTION__KEY``) < command line.
Components receive their typed section through their constructor; none reads the
environment itself.
"""

from config.errors import ConfigError, Problem
from config.loader import load_settings
from config.schema import Settings

__all__ = ["ConfigError", "Problem", "Settings", "load_settings"]
