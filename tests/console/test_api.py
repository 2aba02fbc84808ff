"""The console's JSON API and guards over a live console on loopback."""

from __future__ import annotations

from urllib.parse import quote

from heroes.console.users import UserStore
from tests.console.conftest import Client, ConsoleThread
from tests.console.labdata import EMAIL, FLAGGED_SHA256, HOSTILE_TITLE, HOSTS, INFOHASH, WALLET


def test_unauthenticated_api_gets_401_and_pages_the_login(console: ConsoleThread) -> None:
    anon = Client(console.url)
    assert anon.get("/api/search?q=tea").status == 401
    resp = anon.get("/search?q=tea")
    assert resp.status == 302 and resp.headers["Location"].startswith("/login?next=")
    assert anon.get("/login").status == 200


def test_security_headers(analyst: Client) -> None:
    resp = analyst.get("/search")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_login_cookie_is_httponly_and_strict(console: ConsoleThread) -> None:
    client = Client(console.url)
    resp = client.post("/api/login", data={"name": "alice", "password": "analyst-password-1"})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_search_facets_histogram_and_paging(analyst: Client) -> None:
    data = analyst.get("/api/search?kind=page&q=tea&sort=newest&size=5").json()
    assert data["total"] > 5 and len(data["hits"]) == 5
    assert data["facets"]["service"] and data["histogram"]
    assert data["next_after"]
    page2 = analyst.get(
        f"/api/search?kind=page&q=tea&sort=newest&size=5&after={data['next_after']}"
    )
    ids1 = {h["id"] for h in data["hits"]}
    ids2 = {h["id"] for h in page2.json()["hits"]}
    assert ids2 and not ids1 & ids2
    narrowed = analyst.get(f"/api/search?kind=page&f=host:{HOSTS[0]}").json()
    assert narrowed["total"] == 6
    has = analyst.get("/api/search?kind=page&has=btc").json()
    assert all(h["kind"] == "page" for h in has["hits"]) and has["total"] >= 12


def test_query_error_is_words(analyst: Client) -> None:
    resp = analyst.get("/api/search?kind=page&q=" + quote("nosuchfield:x"))
    assert resp.status == 400
    assert "nosuchfield" in resp.json()["error"]["message"]
    html = analyst.get("/search?kind=page&q=" + quote('"unclosed'))
    assert html.status == 400 and "Traceback" not in html.text and "query-error" in html.text
    assert analyst.get("/api/search?sort=sideways").json()["error"]["param"] == "sort"


def test_views(analyst: Client) -> None:
    hits = analyst.get("/api/search?kind=page&q=" + quote(f"host:{HOSTS[0]}") + "&size=50").json()
    flagged = [h for h in hits["hits"] if h["flagged"]]
    assert flagged, hits
    page = analyst.get(f"/api/page/{flagged[0]['id']}").json()
    assert page["why"][0]["list"] == "lab-list"
    assert page["hash_hits"][FLAGGED_SHA256][0]["list"] == "lab-list"
    service = analyst.get(f"/api/service/{HOSTS[0]}").json()
    assert service["page_total"] == 6 and service["history"]
    assert HOSTS[1] in {b["key"] for b in service["links_to"]}
    assert HOSTS[3] in {b["key"] for b in service["linked_from"]}
    ih = analyst.get(f"/api/infohash/{INFOHASH}").json()
    assert ih["torrent"]["name"] == "garden-photos" and ih["observation_total"] == 8
    assert ih["clients"] and ih["new_peers"] and ih["pages"]
    entity = analyst.get(f"/api/entity/btc/{WALLET}").json()
    assert entity["page_total"] >= 2 and len(entity["services"]) >= 2
    assert EMAIL in {b["key"] for b in entity["cooccurring"]["emails"]}
    assert analyst.get("/api/entity/btc/nothing-here").status == 404
    assert analyst.get("/api/infohash/zz").status == 400


def test_hostile_content_is_escaped_in_html(analyst: Client) -> None:
    hits = analyst.get("/api/search?kind=page&q=hostile").json()["hits"]
    assert hits and hits[0]["title"] == HOSTILE_TITLE
    html = analyst.get(f"/page/{hits[0]['id']}").text
    assert "<script>window.__pwned" not in html
    assert "&lt;script&gt;window.__pwned" in html
    assert "<img src=x" not in html and 'href="javascript:' not in html


def test_analyst_cannot_reach_admin_actions(analyst: Client, admin: Client) -> None:
    assert analyst.get("/api/audit").status == 403
    assert analyst.get("/api/users").status == 403
    assert {"name": "root", "role": "admin"} in admin.get("/api/users").json()["users"]
    assert analyst.get("/audit").status == 403
    assert analyst.post("/api/hashes/import", headers={"X-CSRF-Token": analyst.csrf}).status == 403
    assert admin.get("/api/audit").status == 200


def test_state_change_without_csrf_is_refused(analyst: Client) -> None:
    alerts = analyst.get("/api/alerts").json()["alerts"]
    target = alerts[0]["id"]
    assert analyst.post(f"/api/alerts/{target}/ack", data={"comment": "x"}).status == 403
    wrong = {"X-CSRF-Token": "not-the-token"}
    assert (
        analyst.post(f"/api/alerts/{target}/ack", data={"comment": "x"}, headers=wrong).status
        == 403
    )
    assert analyst.post(f"/alerts/{target}/ack", form={"comment": "x"}).status == 403


def test_login_throttling(console: ConsoleThread) -> None:
    users = UserStore.for_data_dir(console.settings.data_dir, console.settings.console)
    users.add("bob", "analyst", "bob-password-123")
    users.close()
    client = Client(console.url)
    for _ in range(3):
        assert client.post("/api/login", data={"name": "bob", "password": "wrong"}).status == 401
    locked = client.post("/api/login", data={"name": "bob", "password": "bob-password-123"})
    assert locked.status == 429 and "try again" in locked.json()["error"]["message"]
    assert client.post("/api/login", data={"name": "nobody", "password": "x"}).status == 401


def test_openapi_describes_every_api_route(analyst: Client, console: ConsoleThread) -> None:
    from heroes.console.app import make_app
    from heroes.console.security import USERS

    spec = analyst.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    app = make_app(console.settings, console.store)
    routes = {
        (r.resource.canonical, r.method.lower())
        for r in app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/")
        and r.method in ("GET", "POST")
    }
    app[USERS].close()
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes - {("/api/openapi.json", "get")} == documented


def test_search_and_view_are_audited(admin: Client, analyst: Client) -> None:
    analyst.get("/api/search?q=audited-marker")
    analyst.get(f"/api/service/{HOSTS[1]}")
    data = admin.get("/api/audit").json()
    assert data["chain_ok"]
    actions = [
        (r["data"]["action"], r["data"].get("query"), r["data"].get("target"))
        for r in data["records"]
    ]
    assert ("search", "audited-marker", "/api/search?q=audited-marker") in actions
    assert any(a == "view" and t == f"/api/service/{HOSTS[1]}" for a, _, t in actions)
    assert all(
        r["data"]["address"] == "127.0.0.1"
        for r in data["records"]
        if r["data"]["action"] == "search"
    )


def _multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "----heroes-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_hash_list_upload_reports_bad_lines(admin: Client, analyst: Client) -> None:
    good = "d41d8cd98f00b204e9800998ecf8427e"
    body, ctype = _multipart(
        {"type": "md5", "category": "lab"},
        "../../uploaded-list.txt",
        f"# lab list\n{good}\nnot-a-hash\n".encode(),
    )
    import urllib.request

    def send(client: Client) -> tuple[int, dict]:
        req = urllib.request.Request(
            client.base + "/api/hashes/import",
            data=body,
            method="POST",
            headers={"Content-Type": ctype, "X-CSRF-Token": client.csrf},
        )
        try:
            with client.opener.open(req, timeout=30) as resp:
                import json

                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            import json

            answer = exc.read()
            return exc.code, json.loads(answer) if answer.startswith(b"{") else {}

    import urllib.error

    assert send(analyst)[0] == 403
    # The bad line makes it a 400; the good one is imported all the same.
    status, report = send(admin)
    assert status == 400, report
    assert report["list"] == "uploaded-list" and report["imported"] == 1
    assert report["problems"] and report["problems"][0].startswith("uploaded-list.txt:3:")
    records = admin.get("/api/audit?action=import").json()["records"]
    assert records and records[0]["data"]["target"] == "uploaded-list"


def test_evidence_export_from_the_infohash_view(console: ConsoleThread, analyst: Client) -> None:
    from evidence.keys import init_key
    from monitors.evidence import open_probe_log

    if not console.settings.evidence.signing_key_file.exists():
        init_key(console.settings.evidence.signing_key_file, console.settings.data_dir)
    headers = {"X-CSRF-Token": analyst.csrf}
    missing = analyst.post(f"/api/infohash/{'0' * 40}/export", headers=headers)
    assert missing.status == 404
    log = open_probe_log(console.settings.data_dir, "lab-probe")
    for i in range(3):
        log.append(
            {
                "infohash": INFOHASH,
                "ip": f"127.0.0.{10 + i}",
                "port": 6881,
                "level": 1,
                "probe_id": "lab-probe",
                "probe_version": "lab",
            }
        )
    resp = analyst.post(f"/api/infohash/{INFOHASH}/export", headers=headers)
    assert resp.status == 200, resp.text
    manifest = resp.json()["manifest"]
    assert manifest["records"] == 3 and manifest["selector"] == {"infohash": INFOHASH}
    from pathlib import Path

    from monitors.evidence import verify

    assert verify(Path(resp.json()["output"])).ok  # the bundle `heroes evidence verify` accepts
    form = analyst.post(f"/infohash/{INFOHASH}/export", form={"csrf_token": analyst.csrf})
    assert form.status == 200 and form.headers["Content-Type"] == "application/zip"
    assert form.body[:2] == b"PK"
    assert analyst.post(f"/api/infohash/{INFOHASH}/export").status == 403  # no CSRF token


def test_form_login_needs_its_token_and_never_redirects_away(console: ConsoleThread) -> None:
    client = Client(console.url)
    form = client.get("/login?next=//elsewhere.example/x")
    token = form.text.split('name="login_token" value="')[1].split('"')[0]
    bad = client.post(
        "/login", form={"login_token": "forged", "name": "alice", "password": "analyst-password-1"}
    )
    assert bad.status == 403
    ok = client.post(
        "/login",
        form={
            "login_token": token,
            "name": "alice",
            "password": "analyst-password-1",
            "next": "//elsewhere.example/x",
        },
    )
    assert ok.status == 303 and ok.headers["Location"] == "/"
    assert client.get("/api/alerts").status == 200
