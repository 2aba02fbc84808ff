"""Access state beyond one page: ``heroes extract --json`` reports it, a crawl's verdicts fold
into the service's state, service versions merge their access history, and the
``access_changed`` alert rule fires on a change (limited to the states it names)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from alerting.rules import evaluate
from config.sections.alerts import AlertRule
from crawler.access.classify import Access
from crawler.access.state import HostAccess
from documents.service import AccessCheck, Service
from heroes.cli import main

PAGES = Path(__file__).parent / "access_pages"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _extract(tmp_path: Path, name: str, *extra: str) -> dict:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "extract",
                                       str(PAGES / name), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_extract_json_reports_access(tmp_path: Path) -> None:
    captcha = _extract(tmp_path, "captcha.html")
    assert captcha["access"]["state"] == "captcha" and captcha["access"]["why"]
    assert _extract(tmp_path, "links_to_login.html")["access"]["state"] == "content"
    assert _extract(tmp_path, "ordinary.html", "--status", "429")["access"]["state"] == (
        "rate-limited")


def test_extract_human_output_names_the_state(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "extract",
                                       str(PAGES / "login_wall.html")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("access:   login (")


def test_crawl_verdicts_fold_into_one_state() -> None:
    host = HostAccess()
    host.note(Access("content", "ok"), T0)
    for _ in range(3):
        host.note(Access("login", "a login form"), T0 + timedelta(seconds=1))
    fields = host.service_fields(T0 + timedelta(seconds=2))
    assert fields["access"] == "login" and fields["access_why"] == "a login form"
    assert fields["last_content"] == T0
    only_content = HostAccess()
    only_content.note(Access("content", "ok"), T0)
    assert only_content.state() == "content"
    assert HostAccess().service_fields(T0) == {}


def _service(at: datetime, state: str, **kw: object) -> Service:
    return Service(host="abc.onion", first_seen=at, last_seen=at, access=state,
                   access_history=[AccessCheck(at=at, state=state, why=state)], **kw)


def test_service_versions_merge_access_history() -> None:
    old = _service(T0, "content", last_content=T0)
    new = _service(T0 + timedelta(days=1), "login")
    merged = new.merged_with(old)
    assert merged.access == "login"
    assert [c.state for c in merged.access_history] == ["content", "login"]
    assert merged.last_content == T0


def test_access_changed_rule() -> None:
    rule = AlertRule(name="needs-login", type="access_changed", states=["login"])
    merged = _service(T0 + timedelta(days=1), "login").merged_with(
        _service(T0, "content", last_content=T0))
    firing = evaluate(rule, merged)
    assert firing is not None
    assert "from content to login" in firing.summary and firing.key == "abc.onion"
    # No change, a change to a state the rule does not name, a first check: no alert.
    same = _service(T0 + timedelta(days=1), "content").merged_with(_service(T0, "content"))
    assert evaluate(rule, same) is None
    to_queue = _service(T0 + timedelta(days=1), "queue").merged_with(_service(T0, "content"))
    assert evaluate(rule, to_queue) is None
    assert evaluate(AlertRule(name="any", type="access_changed"), to_queue) is not None
    assert evaluate(rule, _service(T0, "login")) is None
