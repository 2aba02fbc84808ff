"""The API description built from its one table: path parameters read from the templates,
CSRF on state-changing calls, 403 where a role is needed. (That the table and the console's
routes are the same set is checked against a running console in test_api.py.)"""

from __future__ import annotations

import re

import pytest

from heroes.console.openapi import OPERATIONS, Operation, openapi


def test_every_path_parameter_is_described_once_and_required() -> None:
    for path, methods in openapi()["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        for op in methods.values():
            in_path = [p for p in op["parameters"] if p["in"] == "path"]
            assert [p["name"] for p in in_path] == names, path
            assert all(p["required"] and p["description"] for p in in_path), path


def test_a_row_says_more_about_one_parameter() -> None:
    spec = openapi()["paths"]
    ack = spec["/api/alerts/{id}/ack"]["post"]["parameters"][0]
    page = spec["/api/page/{id}"]["get"]["parameters"][0]
    assert (ack["description"], page["description"]) == ("Alert id.", "Page id.")


def test_state_changing_calls_need_the_csrf_token_except_login() -> None:
    for path, methods in openapi()["paths"].items():
        for method, op in methods.items():
            headers = [p["name"] for p in op["parameters"] if p["in"] == "header"]
            wants = method == "post" and path != "/api/login"
            assert headers == (["X-CSRF-Token"] if wants else []), (method, path)


def test_admin_calls_can_answer_403() -> None:
    spec = openapi()["paths"]
    assert "403" in spec["/api/users"]["get"]["responses"]
    assert "403" not in spec["/api/search"]["get"]["responses"]


def test_an_undescribed_path_parameter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        Operation("get", "/api/x/{nope}", "X.").spec()


def test_each_route_is_described_once() -> None:
    keys = [(op.method, op.path) for op in OPERATIONS]
    assert len(keys) == len(set(keys))
