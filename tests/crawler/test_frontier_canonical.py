"""Canonical URLs (what the frontier deduplicates on) and the URL-trap limits."""

from __future__ import annotations

import pytest

from config.sections.frontier import FrontierSettings
from crawler.frontier.canonical import BadUrl, canonical_url, url_key
from crawler.frontier.traps import trap_reason

ONION = "x" * 56 + ".onion"
SESSION = FrontierSettings().session_params


@pytest.mark.parametrize(("given", "canonical"), [
    (f"HTTP://{ONION.upper()}/Path", f"http://{ONION}/Path"),
    (f"http://{ONION}:80/a", f"http://{ONION}/a"),
    (f"https://{ONION}:443/a", f"https://{ONION}/a"),
    (f"http://{ONION}:8080/a", f"http://{ONION}:8080/a"),
    (f"http://{ONION}/a#frag", f"http://{ONION}/a"),
    (f"http://{ONION}", f"http://{ONION}/"),
    (f"http://{ONION}/a?z=1&a=2&m=", f"http://{ONION}/a?a=2&m=&z=1"),
    (f"http://{ONION}/a?PHPSESSID=abc&t=5&sid=9", f"http://{ONION}/a?t=5"),
    (f"http://{ONION}/a?JSESSIONID=abc", f"http://{ONION}/a"),
    (f"http://{ONION}/%7euser/a%20b", f"http://{ONION}/~user/a%20b"),
])
def test_canonical_form(given: str, canonical: str) -> None:
    assert canonical_url(given, SESSION) == canonical


def test_session_params_are_configurable_and_keys_are_stable() -> None:
    assert canonical_url(f"http://{ONION}/a?sid=1", []) == f"http://{ONION}/a?sid=1"
    assert canonical_url(f"http://{ONION}/a?token=1", ["Token"]) == f"http://{ONION}/a"
    key = url_key(canonical_url(f"http://{ONION}/a?b=1&a=2", SESSION))
    assert key == url_key(canonical_url(f"http://{ONION.upper()}:80/a?a=2&b=1#x", SESSION))
    assert len(key) == 24


@pytest.mark.parametrize("bad", ["ftp://x.onion/", "mailto:a@b", "http:///path", "http://[::1"])
def test_urls_without_http_host_are_refused_with_the_value(bad: str) -> None:
    with pytest.raises(BadUrl, match="URL"):
        canonical_url(bad)


def test_trap_limits() -> None:
    options = FrontierSettings(max_path_segments=5, max_segment_repeats=2)
    assert trap_reason(f"http://{ONION}/cal/2024/01/01", options) is None
    reason = trap_reason(f"http://{ONION}/a/b/a/b/a", options)
    assert reason is not None and "'a' repeats 3 times" in reason
    deep = trap_reason(f"http://{ONION}/1/2/3/4/5/6", options)
    assert deep is not None and "6 segments" in deep
    assert trap_reason(f"http://{ONION}/", options) is None
