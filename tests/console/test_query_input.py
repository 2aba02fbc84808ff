"""What analysts type, through every door: ``heroes search`` and the console's JSON API.

Kibana habits (``*``, ``field:*``, trailing wildcards) work on every kind; bad input (regular
expressions, leading wildcards, deep nesting, impossible dates) gets the same words from the
CLI (exit 2) and the API (HTTP 400), never a traceback; and one time syntax is accepted or
refused identically by the CLI, the API and alert-rule settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from config import load_settings
from config.errors import ConfigError
from heroes.cli import main
from tests.console.conftest import Client, ConsoleThread

EVERY_KIND = ("page", "service", "observation", "torrent", "hash", "alert")


def cli(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "search", *args])
    return result.exit_code, result.output


def api(client: Client, **params: str) -> tuple[int, dict]:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    resp = client.get(f"/api/search?{query}")
    assert "Traceback" not in resp.text
    return resp.status, resp.json()


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_star_matches_every_document_of_every_kind(analyst: Client, kind: str) -> None:
    status, everything = api(analyst, kind=kind, q="")
    assert status == 200
    for text in ("*", "*:*"):
        status, data = api(analyst, kind=kind, q=text)
        assert status == 200, data
        assert data["total"] == everything["total"]
    status, data = api(analyst, kind=kind, q="NOT *")
    assert status == 200 and data["total"] == 0


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_star_in_the_cli_finds_what_the_api_finds(
        console: ConsoleThread, analyst: Client, kind: str) -> None:
    _, data = api(analyst, kind=kind, q="*")
    code, out = cli(Path(console.settings.data_dir), "*", "--kind", kind, "--json")
    assert code == 0, out
    assert json.loads(out.splitlines()[-1])["hits"]["total"]["value"] == data["total"]


def test_exists_and_trailing_wildcards(analyst: Client) -> None:
    _, pages = api(analyst, kind="page", q="*")
    _, titled = api(analyst, kind="page", q="title:*")
    assert 0 < titled["total"] <= pages["total"]
    _, exact = api(analyst, kind="page", q="tea")
    _, prefixed = api(analyst, kind="page", q="te*")
    assert 0 < exact["total"] <= prefixed["total"]
    _, market = api(analyst, kind="page", q="title:MARK*")
    assert market["total"] > 0
    assert all("market" in h["title"].lower() for h in market["hits"])
    _, peers = api(analyst, kind="observation", q="ip:*")
    _, observations = api(analyst, kind="observation", q="*")
    assert peers["total"] == observations["total"] > 0


BAD = [
    ("/esc.*/", "regular expressions such as '/esc.*/' are not supported"),
    ("*esc", "'*esc' starts with a wildcard"),
    ("es*c", "'es*c' has a wildcard inside it"),
    ("title:foo-b*", "completes one word"),
    ("(" * 300 + "tea" + ")" * 300, "deeper than 16 levels"),
    ("-" * 1500 + "tea", "deeper than 16 levels"),
    ("tea " * 600, "at most 2000 are searched"),
    ("t " * 900, "more than 1024 clauses"),
    ("fetched_at:>now-99999999d", "'99999999d' is longer than any span of dates"),
    ("fetched_at:10000-01-01", "'10000-01-01' is not a time"),
    ("fetched_at:>now-1M", "'1M' is not a duration"),
    ("status:>" + "9" * 30, "outside the 64-bit whole numbers"),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_bad_queries_are_exit_2_and_http_400_with_the_same_words(
        tmp_path: Path, analyst: Client, text: str, words: str) -> None:
    code, out = cli(tmp_path, "--", text)  # "--": a query may start with "-"
    assert code == 2, out
    assert words in out and "Traceback" not in out
    status, data = api(analyst, kind="page", q=text)
    assert status == 400
    assert data["error"]["param"] == "q" and words in data["error"]["message"]


def test_the_last_possible_day_is_a_valid_search(tmp_path: Path, analyst: Client) -> None:
    code, out = cli(tmp_path, "fetched_at:9999-12-31")
    assert code == 0 and "0 page documents match" in out
    status, data = api(analyst, kind="page", q="fetched_at:9999-12-31")
    assert status == 200 and data["total"] == 0


# (spelling, accepted) of durations; each is used as a rule window, after now- in the CLI's
# --since and a query, and on its own as the API's from= (which means that long ago).
DURATIONS = [
    ("90s", True), ("12h", True), ("7d", True), ("2w", True), ("500ms", True),
    ("1M", False), ("7y", False), ("7", False), ("d", False), ("1.5h", False),
    ("99999999999d", False), ("99999999d", False),
]


@pytest.mark.parametrize(("spelling", "accepted"), DURATIONS)
def test_one_time_syntax_in_cli_api_and_rule_settings(
        tmp_path: Path, analyst: Client, spelling: str, accepted: bool) -> None:
    quoted = repr(spelling)
    code, out = cli(tmp_path, "--since", f"now-{spelling}")
    assert (code == 0) is accepted and (code == 2 or accepted), out
    code_q, out_q = cli(tmp_path, f"fetched_at:>now-{spelling}")
    assert (code_q == 0) is accepted, out_q
    status, data = api(analyst, kind="page", **{"from": spelling})
    assert (status == 200) is accepted, data
    status_q, data_q = api(analyst, kind="page", q=f"fetched_at:>now-{spelling}")
    assert (status_q == 200) is accepted, data_q
    rule = {"name": "r", "type": "frequency", "query": "tea", "window_s": spelling}
    try:
        load_settings(None, environ={}, overrides={"alerts": {"rules": [rule]}})
        rule_error = ""
    except ConfigError as exc:
        rule_error = str(exc)
    assert (rule_error == "") is accepted, rule_error
    if not accepted:
        assert "--since" in out and quoted in out
        assert data["error"]["param"] == "from" and quoted in data["error"]["message"]
        assert quoted in data_q["error"]["message"] and quoted in out_q
        assert "window_s" in rule_error and quoted in rule_error


@pytest.mark.parametrize(("spelling", "accepted"), [
    ("2026-11-28", True), ("2026-11-28T12:00Z", True), ("2026-11-28T12:00+02:00", True),
    ("now", True), ("now+1w", True), ("-7d", True),
    ("yesterday", False), ("now/d", False), ("2026-13-01", False), ("now-", False),
    ("0001-01-01T00:00+01:00", False),
])
def test_times_are_accepted_or_refused_alike(
        tmp_path: Path, analyst: Client, spelling: str, accepted: bool) -> None:
    code, out = cli(tmp_path, "--until", spelling)
    assert (code == 0) is accepted, out
    status, data = api(analyst, kind="page", to=spelling)
    assert (status == 200) is accepted, data
    status_q, data_q = api(analyst, kind="page", q=f"fetched_at:<{spelling}")
    assert (status_q == 200) is accepted, data_q
    if not accepted:
        assert code == 2 and repr(spelling) in out
        assert data["error"]["param"] == "to" and repr(spelling) in data["error"]["message"]
