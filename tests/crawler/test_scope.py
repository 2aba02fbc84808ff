"""Scope: onion-only by default, v3 checksums checked; seeds report FILE:LINE problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.middlewares.scope import scope_problem
from crawler.seeds import SeedError, check_seeds, read_seed_file
from identifiers.onion import onion_address

GOOD = onion_address(bytes(range(32)))
BAD = GOOD[:10] + ("a" if GOOD[10] != "a" else "b") + GOOD[11:]


@pytest.mark.parametrize(
    ("url", "clearnet", "reason"),
    [
        (f"http://{GOOD}/x", False, None),
        (f"https://sub.{GOOD}/", False, None),
        (f"http://{BAD}/", False, "bad_onion"),
        ("http://127.0.0.1:9/canary", False, "clearnet"),
        ("http://example.com/", False, "clearnet"),
        ("http://example.com/", True, None),
        (f"ftp://{GOOD}/", False, "scheme"),
        ("mailto:someone@example.com", False, "scheme"),
        ("http:///nohost", False, "no_host"),
        ("http://[::1/", False, "malformed"),
    ],
)
def test_scope_problem(url: str, clearnet: bool, reason: str | None) -> None:
    assert scope_problem(url, clearnet) == reason


def test_seed_file_problems_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text(f"# seeds\n{GOOD}\n\nhttp://example.com/  # clearnet\nhttp://{BAD}/\n")
    with pytest.raises(SeedError) as info:
        check_seeds(read_seed_file(path), allow_clearnet=False)
    message = str(info.value)
    assert f"{path}:4: 'http://example.com/': not an onion host" in message
    assert f"{path}:5: 'http://{BAD}/': not a valid v3 onion address" in message


def test_good_seeds_are_normalized_and_deduplicated(tmp_path: Path) -> None:
    seeds = check_seeds([("a", GOOD), ("b", f"http://{GOOD}/")], allow_clearnet=False)
    assert seeds == [f"http://{GOOD}/"]


def test_unreadable_seed_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read"):
        read_seed_file(tmp_path / "missing.txt")
