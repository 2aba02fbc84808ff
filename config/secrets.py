"""Secrets written into a settings file, and credentials inside URLs: found, and masked.

Secrets belong in the environment (``HEROES_SMTP__PASSWORD``, ...), never in a file that
gets copied, shared or committed. :func:`written_secrets` names each one a file holds: a
secret option of the schema (smtp, elasticsearch, tor control passwords, the API key),
any key whose name says password, secret or token, and any URL with credentials in it.
:func:`mask_urls` hides the credentials of every URL in a text (``https://user:****@host``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, SecretStr

from config.errors import Problem, key_path
from config.locate import line_of

SECRET_NAME = re.compile(r"passw(or)?d|secret|token|api_?key", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)([^/@\s:]*)(?::([^/@\s]*))?@")
MASK = "****"


def mask_urls(text: str) -> str:
    """``text`` with the password (or the lone user name, often a token) of each URL masked."""

    def hide(found: re.Match[str]) -> str:
        scheme, user, password = found.group(1), found.group(2), found.group(3)
        if password is None:
            return f"{scheme}{MASK}@"
        return f"{scheme}{user}:{MASK}@"

    return _URL_CREDENTIALS.sub(hide, text)


def has_url_credentials(text: str) -> bool:
    return _URL_CREDENTIALS.search(text) is not None


def secret_options(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Key paths of every secret option of the schema (typed ``SecretStr``)."""
    found: set[tuple[str, ...]] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if annotation is SecretStr:
            found.add((*prefix, name))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= secret_options(annotation, (*prefix, name))
    return found


def env_name(path: tuple[str | int, ...]) -> str | None:
    """The environment variable that sets this option, when one can (not inside a list)."""
    if any(isinstance(p, int) for p in path):
        return None
    return "HEROES_" + "__".join(str(p).upper() for p in path)


def written_secrets(
    data: dict[str, Any],
    lines: dict[tuple[str | int, ...], int],
    source: str,
    secret_paths: set[tuple[str, ...]],
) -> list[Problem]:
    """A warning for each non-empty secret in the file's parsed ``data``, at its line."""
    problems = []
    for path, value in _leaves(data, ()):
        env = env_name(path)
        instead = f"set {env} in the environment instead" if env else "keep it out of the file"
        named = path in secret_paths or SECRET_NAME.search(str(path[-1])) is not None
        if named and value not in ("", None):
            problems.append(
                Problem(source, line_of(lines, path), key_path(path),
                        f"a secret is written in the file; {instead}")
            )
        elif isinstance(value, str) and has_url_credentials(value):
            problems.append(
                Problem(source, line_of(lines, path), key_path(path),
                        f"the URL {mask_urls(value)!r} has credentials in it; {instead}")
            )
    return problems


def _leaves(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    # A list of plain values is one option (its URLs are checked one by one, named by the key).
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list) and any(isinstance(v, dict) for v in node):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    elif isinstance(node, list):
        for value in node:
            yield path, value
    else:
        yield path, node
