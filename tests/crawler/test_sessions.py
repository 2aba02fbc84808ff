"""Sessions: cookie files parsed (bad lines named), sessions stored encrypted (no cookie value
in the file), the key kept out of the data directory, the CLI's import/list/remove, and an
audit record for each import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import load_settings
from crawler.sessions.cookies import CookieFileError, parse_cookie_file
from crawler.sessions.store import SessionKeyError, SessionStore
from evidence.registry import AUDIT, audit_log_path, open_log
from heroes.cli import main
from identifiers.onion import onion_address

ONION = onion_address(bytes(range(32)))
BAD_CHECKSUM = ONION[:50] + ("a" if ONION[50] != "a" else "b") + ONION[51:]
SECRET_VALUE = "d3adb33f-session-value"
NETSCAPE = (
    "# Netscape HTTP Cookie File\n"
    f"{ONION}\tFALSE\t/\tFALSE\t0\tsid\t{SECRET_VALUE}\n"
    f"#HttpOnly_.{ONION}\tTRUE\t/\tFALSE\t2000000000\tlang\ten\n"
)
KEY = "lab-key-for-tests"


def test_netscape_cookies() -> None:
    cookies, problems = parse_cookie_file(NETSCAPE, ONION)
    assert problems == []
    assert [(c.name, c.value, c.expires) for c in cookies] == [
        ("sid", SECRET_VALUE, None), ("lang", "en", 2000000000.0)]


def test_exporter_json_cookies() -> None:
    data = [{"name": "sid", "value": "x", "domain": f".{ONION}", "path": "/",
             "expirationDate": 1999999999.5, "secure": False, "httpOnly": True}]
    cookies, problems = parse_cookie_file(json.dumps(data), ONION)
    assert problems == [] and cookies[0].domain == ONION and cookies[0].expires == 1999999999.5
    cookies, _ = parse_cookie_file(json.dumps({"cookies": data}), ONION)
    assert len(cookies) == 1


def test_bad_lines_are_named_and_good_ones_kept() -> None:
    text = NETSCAPE + "only\tfour\tfields\there\n" + f"{ONION}\tFALSE\t/\tFALSE\tsoon\tx\ty\n" \
        + "other.onion\tFALSE\t/\tFALSE\t0\tz\tv\n"
    cookies, problems = parse_cookie_file(text, ONION)
    assert len(cookies) == 2
    assert [p.line for p in problems] == [4, 5, 6]
    assert "found 4" in str(problems[0]) and "'soon'" in str(problems[1])
    assert "another host" in str(problems[2])


def test_unusable_files_and_bad_onions_are_refused() -> None:
    with pytest.raises(CookieFileError, match="line 1"):
        parse_cookie_file("garbage without tabs\n", ONION)
    with pytest.raises(CookieFileError, match="checksum"):
        parse_cookie_file(NETSCAPE, BAD_CHECKSUM)
    with pytest.raises(CookieFileError, match="not valid JSON"):
        parse_cookie_file("[{", ONION)


def _settings(data_dir: Path, **crawler: str):  # type: ignore[no-untyped-def]
    return load_settings(None, environ={}, overrides={"data_dir": str(data_dir),
                                                      "crawler": crawler})


def test_store_encrypts_and_needs_its_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data", sessions_key=KEY)
    store = SessionStore(settings)
    cookies, _ = parse_cookie_file(NETSCAPE, ONION)
    session = store.add(ONION, cookies, analyst="alice")
    assert store.active_for(ONION).cookies == tuple(cookies)  # type: ignore[union-attr]
    store.mark(session.id, "expired")
    assert store.active_for(ONION) is None
    store.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data" / "sessions").iterdir())
    assert SECRET_VALUE.encode() not in raw
    with pytest.raises(SessionKeyError, match="does not decrypt"):
        SessionStore(_settings(tmp_path / "data", sessions_key="another")).all()
    with pytest.raises(SessionKeyError, match="no key is set"):
        SessionStore(_settings(tmp_path / "data"))


def test_key_file_outside_the_data_dir_only(tmp_path: Path) -> None:
    inside = tmp_path / "data" / "key"
    inside.parent.mkdir()
    inside.write_text(KEY)
    with pytest.raises(SessionKeyError, match="inside the data directory"):
        SessionStore(_settings(tmp_path / "data", sessions_key_file=str(inside)))
    outside = tmp_path / "key"
    outside.write_text(KEY)
    SessionStore(_settings(tmp_path / "data", sessions_key_file=str(outside))).close()


def _cli(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), "sessions", *args],
                              env={"HEROES_CRAWLER__SESSIONS_KEY": KEY})


def test_cli_import_list_remove_and_audit(tmp_path: Path) -> None:
    cookie_file = tmp_path / "cookies.txt"
    cookie_file.write_text(NETSCAPE)
    done = _cli(tmp_path, "import", ONION, str(cookie_file), "--analyst", "alice")
    assert done.exit_code == 0, done.output
    listed = _cli(tmp_path, "list", "--json")
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["onion"], r["analyst"], r["cookies"]) for r in rows] == [(ONION, "alice", 2)]
    assert SECRET_VALUE not in listed.output
    data_dir = tmp_path / "data"
    records = list(open_log(data_dir, AUDIT, audit_log_path(data_dir)).records())
    imports = [r["data"] for r in records if r["data"]["action"] == "session_import"]
    assert imports and imports[0]["user"] == "alice" and imports[0]["onion"] == ONION
    assert SECRET_VALUE not in json.dumps(records)
    assert _cli(tmp_path, "remove", rows[0]["id"], "--analyst", "alice").exit_code == 0
    assert _cli(tmp_path, "list").output == ""


def test_cli_names_bad_lines_and_refuses_bad_onions(tmp_path: Path) -> None:
    cookie_file = tmp_path / "cookies.txt"
    cookie_file.write_text(NETSCAPE + "broken line\n")
    done = _cli(tmp_path, "import", ONION, str(cookie_file), "--analyst", "bob")
    assert done.exit_code == 2
    assert "line 4: expected 7 tab-separated fields" in done.output
    assert "2 cookies" in done.output  # the good ones are kept
    refused = _cli(tmp_path, "import", BAD_CHECKSUM, str(cookie_file), "--analyst", "bob")
    assert refused.exit_code == 2 and "checksum" in refused.output
    assert "Traceback" not in refused.output
