"""Load settings: defaults < file < environment < command line; validate once; freeze.

Environment variables ``HEROES_SECTION__KEY`` override one option each (secrets such as
``HEROES_SMTP__PASSWORD`` come only this way); ``HEROES_CONFIG`` names the file when no
``--config`` is given and ``HEROES_DATA_DIR`` the data directory. ``check_file`` reports
what is wrong with one file, secrets written into it included; ``masked`` is what
``heroes config show`` prints.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.errors import ConfigError, Problem, key_path
from config.locate import index_lines, line_of
from config.schema import Settings
from config.secrets import mask_urls, secret_options, written_secrets

ENV_PREFIX = "HEROES_"


def _read_toml(path: Path) -> tuple[dict[str, Any], dict[tuple[str | int, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [Problem(str(path), None, "(file)", f"cannot read: {exc.strerror}")]
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), None, "(file)", "not UTF-8 text")]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        message = str(exc).split(" (at line")[0]
        raise ConfigError([Problem(str(path), line, "(syntax)", message)]) from exc
    return data, index_lines(text)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ("HEROES_CONFIG", "HEROES_IN_NETNS"):
            continue
        if name == "HEROES_DATA_DIR":
            overrides["data_dir"] = value
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if len(path) < 2:
            continue
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        # Lists and numbers may be given as JSON; anything else is a plain string.
        try:
            parsed = json.loads(value)
            node[path[-1]] = parsed if isinstance(parsed, list | int | float | bool) else value
        except ValueError:
            node[path[-1]] = value
    return overrides


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _problems(
    exc: ValidationError, source: str, lines: dict[tuple[str | int, ...], int]
) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = key_path(loc)
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        else:
            message = err["msg"]
            if "input" in err and not isinstance(err["input"], dict | list):
                message += f" (got {err['input']!r})"
        problems.append(Problem(source, line_of(lines, loc), key, message))
    return problems


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the frozen settings or raise :class:`ConfigError` listing every problem."""
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get("HEROES_CONFIG"):
        config_file = environ["HEROES_CONFIG"]
    data: dict[str, Any] = {}
    lines: dict[tuple[str | int, ...], int] = {}
    source = "(defaults)"
    if config_file is not None:
        source = str(config_file)
        data, lines = _read_toml(Path(config_file))
    data = _merge(data, _env_overrides(environ))
    if overrides:
        data = _merge(data, overrides)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, source, lines)) from None
    if config_file is not None and not Path(settings.data_dir).is_absolute():
        # A relative data_dir is relative to the working directory, as on the command line.
        settings = settings.with_data_dir(Path(settings.data_dir))
    return settings


@dataclass(frozen=True)
class FileCheck:
    """What the settings layer finds in one file: the settings, if usable, and the problems."""

    source: str
    settings: Settings | None
    problems: list[Problem]  # errors first, then warnings about secrets written in the file
    lines: dict[tuple[str | int, ...], int]

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        return line_of(self.lines, loc)


def check_file(config_file: str | os.PathLike[str]) -> FileCheck:
    """Load ``config_file`` alone (no environment) and look for secrets written in it."""
    source = str(config_file)
    try:
        data, lines = _read_toml(Path(config_file))
    except ConfigError as exc:
        return FileCheck(source, None, exc.problems, {})
    settings: Settings | None = None
    problems: list[Problem] = []
    try:
        settings = load_settings(config_file, environ={})
    except ConfigError as exc:
        problems.extend(exc.problems)
    problems.extend(written_secrets(data, lines, source, secret_options(Settings)))
    return FileCheck(source, settings, problems, lines)


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data: secrets ``**********``, URL credentials ``****``."""
    return _mask(json.loads(settings.model_dump_json()))


def _mask(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _mask(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_mask(value) for value in node]
    if isinstance(node, str):
        return mask_urls(node)
    return node
