"""The console's cluster, cluster-list and timeline views over analysed lab sites: members,
edges with their reasons, a server-drawn SVG graph, and the Content-Security-Policy as it
always is."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from heroes.console.security import CSP
from heroes.lab.operators import operator_world
from tests.analysis.lab_index import T0, analyse, index, site_documents
from tests.console.conftest import Client, ConsoleThread, console_settings, make_store, serve


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConsoleThread, list]]:
    data_dir = tmp_path_factory.mktemp("analysis-console")
    settings = console_settings(data_dir / "data")
    sites = operator_world(kinds=("contact", "pgp"), decoys=1)
    docs = []
    for i, site in enumerate(sites):
        docs += site_documents(site, T0 + timedelta(days=i))
    asyncio.run(index(settings, docs))
    asyncio.run(analyse(settings))
    for server in serve(settings, make_store(settings)):
        yield server, sites


def test_the_cluster_view_draws_members_and_reasons_inline(analysed: tuple) -> None:
    server, sites = analysed
    client = Client(server.url).login("alice")
    contact = sorted(s.host for s in sites if s.group == "contact")
    listed = client.get("/api/clusters").json()
    assert listed["total"] == 2
    by_member = client.get(f"/api/cluster/{contact[0]}").json()["cluster"]
    assert sorted(m["key"] for m in by_member["members"]) == contact
    assert {e["type"] for e in by_member["edges"]} >= {"phone", "email"}

    page = client.get(f"/cluster/{by_member['cluster_id']}")
    assert page.status == 200
    assert page.headers["Content-Security-Policy"] == CSP
    html = page.text
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count('class="node"') == len(contact)
    assert 'class="edge" data-type="phone"' in svg
    assert "style=" not in svg and "<script" not in html.split("</head>")[1]
    # Nothing outside the console is loaded: every src/href is a path of its own.
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    for host in contact:
        assert host in html

    listing = client.get("/clusters")
    assert listing.status == 200 and by_member["cluster_id"] in listing.text


def test_the_timeline_view_follows_a_phone_from_site_to_site(analysed: tuple) -> None:
    server, sites = analysed
    client = Client(server.url).login("alice")
    contact = [s.host for s in sites if s.group == "contact"]
    cluster = client.get(f"/api/cluster/{contact[0]}").json()["cluster"]
    phone = next(e["value"] for e in cluster["edges"] if e["type"] == "phone")
    data = client.get(f"/api/timeline/{phone}").json()
    assert [s["service"] for s in data["spans"]] == contact
    html = client.get(f"/timeline/{phone}")
    assert html.status == 200 and all(h in html.text for h in contact)
    bad = client.get("/api/timeline/nonsense")
    assert bad.status == 400 and "neither a phone number nor an e-mail" in bad.text
    assert client.get("/api/cluster/nothing-here").status == 404


def test_views_need_a_login(analysed: tuple, tmp_path: Path) -> None:
    server, _ = analysed
    assert Client(server.url).get("/api/clusters").status in (401, 302, 303)
