"""The defended lab services crawled through the lab's Tor network: each ends in the right
``access`` state, no challenge page's text is in the index, the queue is waited out, the
rate-limited site is crawled completely with no 429 once its limit was learned, the https
onion's certificate is on its service, the JavaScript-only onion is rendered with no media
request, and sessions (imported or by form login) open the login-walled forum."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from heroes.lab.tor_network import socks_get
from tests.crawler.conftest import CrawlRun, LabWorld, indexed, run_heroes

pytestmark = pytest.mark.tor
REACH_TIMEOUT_S = 120


def wait_reachable(world: LabWorld, names: list[str]) -> None:
    """Each defended onion answers through Tor (its descriptor is published and fetched)."""
    sites = world.info["access_sites"]
    deadline = time.monotonic() + REACH_TIMEOUT_S
    pending = list(names)
    errors: dict[str, str] = {}
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            try:
                socks_get(world.info["socks"]["port"], sites[name]["onion"], "/favicon.ico",
                          username=f"reach-{name}-{int(time.monotonic())}", timeout=20)
                pending.remove(name)
            except OSError as exc:
                errors[name] = str(exc)
    assert not pending, f"not reachable through Tor: {pending} ({errors})"


def requests_log(world: LabWorld) -> list[dict[str, Any]]:
    path = Path(world.info["access_sites"]["queue"]["log"])
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def url(world: LabWorld, name: str, scheme: str = "http") -> str:
    return f"{scheme}://{world.info['access_sites'][name]['onion']}/"


def crawl(world: LabWorld, data_dir: Path, seeds: list[str], job: str, **env: str) -> CrawlRun:
    started = time.time()
    done = run_heroes(world, data_dir, ["-v", "crawl", *seeds, "--job", job, "--json"], **env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"crawl failed ({done.returncode}):\n{output[-4000:]}"
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    return CrawlRun(data_dir, done.returncode, output, [], summary, started, 0)


@pytest.fixture(scope="module")
def defended_crawl(lab_world: LabWorld, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    wait_reachable(lab_world, ["queue", "captcha", "login", "ratelimit", "httpsonly", "jsonly"])
    data_dir = tmp_path_factory.mktemp("access-data")
    seeds = [url(lab_world, n) for n in ("queue", "captcha", "login", "ratelimit", "jsonly")]
    seeds.append(url(lab_world, "httpsonly", "https"))
    # The lab's limit counts in a 10 s window; a real site's in a minute (the default).
    return crawl(lab_world, data_dir, seeds, "defended", HEROES_CRAWLER__RATE_WINDOW_S="10")


def services(run: CrawlRun) -> dict[str, dict[str, Any]]:
    return {s["host"]: s for s in indexed(run.data_dir, "service")}


def test_each_defended_service_ends_in_its_access_state(
    lab_world: LabWorld, defended_crawl: CrawlRun
) -> None:
    by_host = services(defended_crawl)
    expected = {"queue": "content", "captcha": "captcha", "login": "login",
                "ratelimit": "content", "httpsonly": "content", "jsonly": "content"}
    got = {name: by_host.get(lab_world.info["access_sites"][name]["onion"], {}).get("access")
           for name in expected}
    assert got == expected, defended_crawl.output[-3000:]
    for name in ("captcha", "login"):
        service = by_host[lab_world.info["access_sites"][name]["onion"]]
        assert service["access_why"] and service["access_history"][-1]["state"] == name
        assert service.get("last_content") is None


def test_no_challenge_text_in_the_index(lab_world: LabWorld, defended_crawl: CrawlRun) -> None:
    pages = indexed(defended_crawl.data_dir, "page")
    markers = lab_world.info["access_sites"]["queue"]["challenge_markers"]
    for page in pages:
        for marker in markers.values():
            assert marker not in page.get("text", ""), page["url"]
    hosts = {p["host"] for p in pages}
    for name in ("captcha", "login"):
        assert lab_world.info["access_sites"][name]["onion"] not in hosts


def _content_urls(world: LabWorld, name: str, scheme: str = "http") -> set[str]:
    site = world.info["access_sites"][name]
    return {f"{scheme}://{site['onion']}{path}" for path in site["pages"][name]}


def test_queue_is_waited_out_and_its_pages_indexed(
    lab_world: LabWorld, defended_crawl: CrawlRun
) -> None:
    urls = {p["url"] for p in indexed(defended_crawl.data_dir, "page") if p["status"] == 200}
    assert _content_urls(lab_world, "queue") <= urls


def test_rate_limited_site_crawled_completely_without_429_after_the_first(
    lab_world: LabWorld, defended_crawl: CrawlRun
) -> None:
    urls = {p["url"] for p in indexed(defended_crawl.data_dir, "page") if p["status"] == 200}
    assert _content_urls(lab_world, "ratelimit") <= urls
    served = [r for r in requests_log(lab_world) if r.get("site") == "ratelimit"
              and r["at"] >= defended_crawl.started_at]
    limited = [r for r in served if r["status"] == 429]
    assert limited, "the crawl never reached the site's limit: the test proves nothing"
    # Answers already on their way when the first 429 came back may be 429s too; every
    # request sent after the crawler learned the limit is answered.
    first = limited[0]["at"]
    later = [r for r in limited if r["at"] > first + 1.0]
    assert later == [], f"429s after the first one: {later}"


def test_https_onion_crawled_with_its_certificate_on_the_service(
    lab_world: LabWorld, defended_crawl: CrawlRun
) -> None:
    site = lab_world.info["access_sites"]["httpsonly"]
    service = services(defended_crawl)[site["onion"]]
    assert service["tls"]["sha256"] == site["tls_sha256"]
    assert "Garden Club Lab" in service["tls"]["issuer"]
    urls = {p["url"] for p in indexed(defended_crawl.data_dir, "page") if p["status"] == 200}
    assert _content_urls(lab_world, "httpsonly", "https") <= urls
    snis = {r["sni"] for r in requests_log(lab_world) if r.get("sni")}
    assert snis == {site["onion"]}


def test_javascript_only_onion_rendered_without_a_media_request(
    lab_world: LabWorld, defended_crawl: CrawlRun
) -> None:
    site = lab_world.info["access_sites"]["jsonly"]
    pages = {p["url"]: p for p in indexed(defended_crawl.data_dir, "page")
             if p["host"] == site["onion"]}
    marker = site["content_markers"]["jsonly"]
    front = pages[f"http://{site['onion']}/"]
    assert marker in front["text"], defended_crawl.output[-3000:]
    assert set(front["links"]) >= {f"http://{site['onion']}/n/1.html",
                                   f"http://{site['onion']}/n/2.html"}
    assert _content_urls(lab_world, "jsonly") <= set(pages)
    served = [r for r in requests_log(lab_world) if r.get("site") == "jsonly"
              and r["at"] >= defended_crawl.started_at]
    assert any(r["path"] == "/app.js" for r in served)
    media = [r for r in served if r["path"].startswith("/media/")]
    assert media == [], f"media requested: {media}"
    assert defended_crawl.summary.get("media_hashed", 0) == 0


SESSIONS_KEY = "lab-sessions-key-not-secret"
ACCESS_RULE = json.dumps([{"name": "needs-login", "type": "access_changed",
                           "states": ["login"], "kinds": ["service"]}])


def _login_env(**extra: str) -> dict[str, str]:
    return {"HEROES_CRAWLER__SESSIONS_KEY": SESSIONS_KEY, "HEROES_ALERTS__RULES": ACCESS_RULE,
            **extra}


def _service(run_dir: Path, onion: str) -> dict[str, Any]:
    return {s["host"]: s for s in indexed(run_dir, "service")}[onion]


def test_imported_session_opens_the_forum_until_it_expires(
    lab_world: LabWorld, tmp_path: Path
) -> None:
    from alerting.db import AlertDB, alert_db_path
    from alerting.state import AlertState
    from evidence.registry import AUDIT, audit_log_path, open_log

    wait_reachable(lab_world, ["login"])
    site = lab_world.info["access_sites"]["login"]
    onion, token = site["onion"], site["tokens"]["sid"]
    data_dir = tmp_path / "data"
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(f"# Netscape HTTP Cookie File\n{onion}\tFALSE\t/\tFALSE\t0\tsid\t{token}\n")
    done = run_heroes(lab_world, data_dir, ["sessions", "import", onion, str(cookies),
                                            "--analyst", "alice"], **_login_env())
    assert done.returncode == 0, done.stdout + done.stderr

    first = crawl(lab_world, data_dir, [url(lab_world, "login")], "with-session", **_login_env())
    assert _service(data_dir, onion)["access"] == "content", first.output[-3000:]
    urls = {p["url"] for p in indexed(data_dir, "page") if p["status"] == 200}
    assert _content_urls(lab_world, "login") <= urls
    assert token not in first.output
    uses = [r["data"] for r in open_log(data_dir, AUDIT, audit_log_path(data_dir)).records()
            if r["data"]["action"] == "session_use"]
    assert uses and uses[0]["user"] == "alice" and uses[0]["onion"] == onion
    # The session's own circuit: the forum saw the cookie on every request.
    served = [r for r in requests_log(lab_world) if r.get("site") == "login"
              and r["at"] >= first.started_at]
    assert served and all(r["session"] for r in served)

    # The site ends the session: the service goes back to "login" and the rule fires.
    Path(site["dir"], "login", "revoked").write_text(token + "\n")
    second = crawl(lab_world, data_dir, [url(lab_world, "login")], "expired", **_login_env())
    service = _service(data_dir, onion)
    assert service["access"] == "login", second.output[-3000:]
    assert [c["state"] for c in service["access_history"]][-2:] == ["content", "login"]
    listed = run_heroes(lab_world, data_dir, ["sessions", "list", "--json"], **_login_env())
    assert json.loads(listed.stdout.splitlines()[0])["state"] == "expired"
    state = AlertState(AlertDB(alert_db_path(data_dir)))
    try:
        alerts = [a for a in state.list() if a.rule == "needs-login"]
    finally:
        state.db.close()
    assert alerts, "no access_changed alert"


def test_form_login_from_the_environment(lab_world: LabWorld, tmp_path: Path) -> None:
    wait_reachable(lab_world, ["login"])
    site = lab_world.info["access_sites"]["login"]
    account = site["account"]
    logins = json.dumps([{"onion": site["onion"], "login_url": url(lab_world, "login") + "login",
                          "username": account["username"], "password": account["password"],
                          "analyst": "bob"}])
    data_dir = tmp_path / "data"
    run = crawl(lab_world, data_dir, [url(lab_world, "login")], "form-login",
                **_login_env(HEROES_CRAWLER__LOGINS=logins))
    assert _service(data_dir, site["onion"])["access"] == "content", run.output[-3000:]
    urls = {p["url"] for p in indexed(data_dir, "page") if p["status"] == 200}
    assert _content_urls(lab_world, "login") <= urls
    password = account["password"].encode()
    assert password.decode() not in run.output
    shown = run_heroes(lab_world, data_dir, ["config", "show"],
                       **_login_env(HEROES_CRAWLER__LOGINS=logins))
    assert shown.returncode == 0 and password.decode() not in shown.stdout + shown.stderr
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert password not in path.read_bytes(), f"the password is in {path}"
