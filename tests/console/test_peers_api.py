"""The console's peers over HTTP: ranking, sorting, explanation, export, assignment, audit."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from tests.console import peers_fixtures
from tests.console.conftest import Client
from tests.triage import peer_data as pd

peers_console = peers_fixtures.peers_console
peers_analyst = peers_fixtures.peers_analyst
peers_admin = peers_fixtures.peers_admin


def test_ranked_and_sortable(peers_analyst: Client) -> None:
    resp = peers_analyst.get("/api/peers")
    assert resp.status == 200, resp.text
    ips = [p["ip"] for p in resp.json()["peers"]]
    assert ips[:2] == [pd.TOP, pd.MID] and ips[-1] == pd.L0_ONLY
    by_swarms = peers_analyst.get("/api/peers?sort=swarms&order=desc").json()["peers"]
    assert by_swarms[0]["ip"] == pd.L0_ONLY
    by_ip = [p["ip"] for p in peers_analyst.get("/api/peers?sort=ip&order=asc").json()["peers"]]
    assert by_ip == sorted(by_ip)
    grouped = peers_analyst.get("/api/peers?by64=1").json()["peers"]
    assert pd.NET64 in [p["ip"] for p in grouped]
    page = peers_analyst.get("/peers")
    assert page.status == 200 and f'href="/peer/{pd.TOP}"' in page.text


def test_bad_parameters_name_themselves(peers_analyst: Client) -> None:
    resp = peers_analyst.get("/api/peers?since=whenever")
    assert resp.status == 400 and resp.json()["error"]["param"] == "since"
    assert peers_analyst.get("/api/peers?sort=colour").json()["error"]["param"] == "sort"
    bad = peers_analyst.get("/api/peer/127.20.0.999")
    assert bad.status == 400 and bad.json()["error"]["param"] == "ip"
    assert peers_analyst.get("/api/peer/127.20.9.9").status == 404


def test_explanation_and_ipv6(peers_analyst: Client) -> None:
    data = peers_analyst.get(f"/api/peer/{pd.TOP}").json()
    assert data["rank"] == 1 and {t["name"] for t in data["score"]["terms"]} >= {"swarms"}
    page = peers_analyst.get(f"/peer/{pd.TOP}").text
    assert "Why it ranks here" in page and "log2(1 + 3 flagged swarms)" in page
    v6 = peers_analyst.get(f"/api/peer/{quote(pd.V6_A)}").json()
    assert v6["prefix64"] == pd.NET64 and v6["same_prefix64"] == [pd.V6_B]


def test_infohash_view_links_every_ip(peers_analyst: Client) -> None:
    page = peers_analyst.get(f"/infohash/{pd.SWARM_A}").text
    assert f'<a href="/peer/{pd.TOP}">' in page and f'<a href="/peer/{pd.V6_A}">' in page


def test_export_csv_is_audited(peers_analyst: Client, peers_admin: Client) -> None:
    resp = peers_analyst.get(f"/peer/{pd.TOP}/export.csv")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(rows) == 6 and all(r["port"] and r["seen_at_utc"].endswith("+00:00")
                                  for r in rows)
    assert peers_analyst.get(f"/peer/{pd.TOP}/export.json").json()["ip"] == pd.TOP
    audit = peers_admin.get("/api/audit?action=export").json()["records"]
    assert any(r["data"].get("target") == f"peer/{pd.TOP}" for r in audit)


def test_assignment_is_seen_by_others_and_audited(peers_analyst: Client,
                                                  peers_admin: Client) -> None:
    resp = peers_analyst.post(f"/api/peer/{pd.MID}/assign",
                              data={"case": "LAB-17", "analyst": "alice"},
                              headers={"X-CSRF-Token": peers_analyst.csrf})
    assert resp.status == 200, resp.text
    seen = peers_admin.get(f"/api/peer/{pd.MID}").json()["assignment"]
    assert seen["case_number"] == "LAB-17" and seen["analyst"] == "alice"
    assert "LAB-17" in peers_admin.get("/peers").text
    bad = peers_analyst.post(f"/api/peer/{pd.MID}/assign", data={"case": "no spaces please"},
                             headers={"X-CSRF-Token": peers_analyst.csrf})
    assert bad.status == 400 and bad.json()["error"]["param"] == "case"
    no_token = peers_analyst.post(f"/api/peer/{pd.MID}/assign", data={"case": "LAB-18"})
    assert no_token.status == 403
    records = peers_admin.get("/api/audit").json()["records"]
    assert any(r["data"]["action"] == "assign" and r["data"].get("target") == f"peer/{pd.MID}"
               and r["data"].get("case_number") == "LAB-17" for r in records)
    assert any(r["data"]["action"] == "view" and r["data"].get("target") == f"/api/peer/{pd.MID}"
               for r in records)
