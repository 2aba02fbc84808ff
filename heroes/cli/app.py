"""The root ``heroes`` group, its shared options and the mapping of errors to exit codes.

Output streams: a command's results go to stdout; the log goes to stderr at the level of
``log_level`` (default WARNING, so only warnings and errors), which ``-v`` lowers to INFO and
``-vv`` to DEBUG, and ``--log-level`` sets outright; ``[logging] format`` chooses text lines
or JSON objects (``telemetry.logs``). Reads ``log_level``, ``logging`` and ``data_dir``.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from config import ConfigError, Settings, load_settings
from errors import BackendUnavailable, InvalidDocument, QueryError, StoreTooNew
from heroes import __version__
from telemetry.logs import configure_logging
from telemetry.native_memory import limit_malloc_arenas
from telemetry.service import MetricsListenError

EXIT_PROBLEMS = 1
EXIT_USER = 2
EXIT_DEPENDENCY = 3
EXIT_INTERRUPTED = 130

T = TypeVar("T")

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The level -v, -vv ask for (index: how many -v); more -v than listed change nothing more.
VERBOSITY = ("", "INFO", "DEBUG")


class UserError(click.ClickException):
    exit_code = EXIT_USER


class Context:
    """What every command gets: the options of the root group and the settings, loaded once."""

    def __init__(
        self,
        config_file: str | None,
        data_dir: str | None,
        log_level: str | None,
        verbose: int = 0,
    ):
        self.config_file = config_file
        self.data_dir = data_dir
        self.log_level = log_level
        self.verbose = verbose
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            overrides: dict[str, Any] = {}
            if self.data_dir:
                overrides["data_dir"] = self.data_dir
            if self.log_level:
                overrides["log_level"] = self.log_level
            try:
                settings = load_settings(self.config_file, overrides=overrides)
            except ConfigError as exc:
                for problem in exc.problems:
                    click.echo(str(problem), err=True)
                raise SystemExit(EXIT_USER) from None
            level = self.log_level or effective_level(settings.log_level, self.verbose)
            # Components read the level from the settings too (Scrapy's LOG_LEVEL): one level.
            self._settings = settings.model_copy(update={"log_level": level})
            configure_logging(level, settings.logging.format, role=_command_name(),
                              stream=sys.stderr)
            Path(self._settings.data_dir).mkdir(parents=True, exist_ok=True)
        return self._settings


pass_context = click.make_pass_decorator(Context)


def _command_name() -> str:
    """The running command ("probe", "alerts send"): the role of a log line outside a role."""
    names = []
    click_ctx = click.get_current_context(silent=True)
    while click_ctx is not None and click_ctx.parent is not None:
        names.append(click_ctx.info_name or "")
        click_ctx = click_ctx.parent
    return " ".join(reversed(names))


def effective_level(configured: str, verbose: int) -> str:
    """The configured level, made at least as talkative as ``-v`` (given ``verbose`` times)
    asks."""
    if verbose <= 0:
        return configured
    asked = VERBOSITY[min(verbose, len(VERBOSITY) - 1)]
    return min(configured, asked, key=LEVELS.index)


def fail(message: str, code: int = EXIT_USER) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def run_async(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Run an async command body, mapping our errors to exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(fn(*args, **kwargs))
        except KeyboardInterrupt:
            raise SystemExit(EXIT_INTERRUPTED) from None
        except (QueryError, InvalidDocument, StoreTooNew) as exc:
            fail(str(exc), EXIT_USER)
        except BackendUnavailable as exc:
            fail(f"{exc} (is the index backend running and configured?)", EXIT_DEPENDENCY)
        except MetricsListenError as exc:
            fail(str(exc), EXIT_USER)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="heroes")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="HEROES_CONFIG",
              help="Settings file (TOML). Default: HEROES_CONFIG, else built-in defaults.")
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="HEROES_DATA_DIR",
              help="Data directory (index, spool, logs) of this installation.")
@click.option("-v", "--verbose", count=True,
              help="Log more on stderr: -v info, -vv debug (default: warnings and errors).")
@click.option("--log-level", type=click.Choice(LEVELS),
              help="Log level on stderr, whatever log_level and -v say.")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, data_dir: str | None,
         verbose: int, log_level: str | None) -> None:
    """heroes: monitor onion services and BitTorrent swarms for flagged content.

    Results go to stdout; stderr gets warnings and errors (more with -v).
    """
    # Before any command starts the threads of index writers, matching or decoders.
    limit_malloc_arenas()
    ctx.obj = Context(config_file, data_dir, log_level, verbose)
