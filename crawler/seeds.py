"""Seed URLs from settings, a file or the command line, checked before the crawl starts.

A seed file has one URL per line; blank lines and ``#`` comments are ignored. A bare onion
host becomes ``http://<host>/``. A line that is not an in-scope URL is an error naming
``FILE:LINE`` and quoting the value. Reads ``[crawler]`` ``seeds`` and ``allow_clearnet``
through its caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from crawler.errors import CrawlerError
from crawler.middlewares.scope import scope_problem

_REASONS = {
    "bad_onion": "not a valid v3 onion address (checksum or version wrong)",
    "clearnet": "not an onion host (set crawler.allow_clearnet to crawl it)",
    "scheme": "not an http(s) URL",
    "no_host": "no host",
    "malformed": "malformed URL",
}


class SeedError(CrawlerError):
    """A seed is unusable; the message names where it came from."""


def normalize_seed(value: str) -> str:
    value = value.strip()
    if "://" not in value and value.lower().rstrip("/").endswith(".onion"):
        return f"http://{value.rstrip('/')}/"
    return value


def check_seeds(values: Iterable[tuple[str, str]], allow_clearnet: bool) -> list[str]:
    """``(where, value)`` pairs -> URLs; raises SeedError listing every bad one."""
    seeds, problems = [], []
    for where, raw in values:
        url = normalize_seed(raw)
        reason = scope_problem(url, allow_clearnet)
        if reason:
            problems.append(f"{where}: {raw.strip()!r}: {_REASONS[reason]}")
        else:
            seeds.append(url)
    if problems:
        raise SeedError("\n".join(problems))
    return list(dict.fromkeys(seeds))


def read_seed_file(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not UTF-8 text") from exc
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if stripped:
            out.append((f"{path}:{number}", stripped))
    return out
