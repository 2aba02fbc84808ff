"""The root ``heroes`` group, its shared options and the mapping of errors to exit codes."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from config import ConfigError, Settings, load_settings
from heroes import __version__
from index.errors import BackendUnavailable, InvalidDocument, QueryError

EXIT_PROBLEMS = 1
EXIT_USER = 2
EXIT_DEPENDENCY = 3
EXIT_INTERRUPTED = 130

T = TypeVar("T")


class UserError(click.ClickException):
    exit_code = EXIT_USER


class DependencyDown(click.ClickException):
    exit_code = EXIT_DEPENDENCY


class Context:
    """What every command gets: the options of the root group and the settings, loaded once."""

    def __init__(self, config_file: str | None, data_dir: str | None, log_level: str | None):
        self.config_file = config_file
        self.data_dir = data_dir
        self.log_level = log_level
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
                self._settings = load_settings(self.config_file, overrides=overrides)
            except ConfigError as exc:
                for problem in exc.problems:
                    click.echo(str(problem), err=True)
                raise SystemExit(EXIT_USER) from None
            logging.basicConfig(
                level=self._settings.log_level,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                stream=sys.stderr,
            )
            Path(self._settings.data_dir).mkdir(parents=True, exist_ok=True)
        return self._settings


pass_context = click.make_pass_decorator(Context)


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
        except (QueryError, InvalidDocument) as exc:
            fail(str(exc), EXIT_USER)
        except BackendUnavailable as exc:
            fail(f"{exc} (is the index backend running and configured?)", EXIT_DEPENDENCY)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="heroes")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="HEROES_CONFIG",
              help="Settings file (TOML). Default: HEROES_CONFIG, else built-in defaults.")
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="HEROES_DATA_DIR",
              help="Data directory (index, spool, logs) of this installation.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              help="Override the configured log level.")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, data_dir: str | None,
         log_level: str | None) -> None:
    """heroes: monitor onion services and BitTorrent swarms for flagged content."""
    ctx.obj = Context(config_file, data_dir, log_level)
