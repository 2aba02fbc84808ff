"""The OpenAPI 3.1 description of the console's JSON API, served at ``/api/openapi.json``.

Every operation is one row of :data:`OPERATIONS`; its path parameters are read from the
path template and described once in :data:`PATH_PARAMS` (a row may say more about one), and
the responses follow from the method (and the admin role). tests/console checks that the
rows and the console's routes are the same set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from heroes.console.searchreq import ENTITY_TYPES, KIND_ORDER, SORTS

_STRING: dict[str, Any] = {"type": "string"}
_INTEGER: dict[str, Any] = {"type": "integer"}
_OBJECT: dict[str, Any] = {"type": "object"}
_ERROR = {"$ref": "#/components/responses/Error"}
_TEMPLATE_NAME = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Param:
    """A query or header parameter."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: _STRING)
    where: Literal["query", "header"] = "query"
    required: bool = False

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "in": self.where, "required": self.required,
                "description": self.description, "schema": dict(self.schema)}


def _many(items: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(items)}


def _props(*names: str, required: tuple[str, ...] = (), **typed: Any) -> dict[str, Any]:
    """A JSON object body: string properties ``names``, others typed by keyword."""
    body: dict[str, Any] = {"type": "object"}
    if required:
        body["required"] = list(required)
    body["properties"] = {**{n: dict(_STRING) for n in names}, **typed}
    return body


# What each path parameter of the routes is: (description, schema).
PATH_PARAMS: dict[str, tuple[str, Mapping[str, Any]]] = {
    "id": ("Id.", _STRING),
    "kind": ("Document kind.", _STRING),
    "host": ("Onion host.", _STRING),
    "infohash": ("40 or 64 hex digits.", _STRING),
    "ip": ("IPv4 or IPv6 address.", _STRING),
    "type": ("Entity type.", {"type": "string", "enum": list(ENTITY_TYPES)}),
    "value": ("The entity.", _STRING),
    "action": ("release or remove.", _STRING),
}


@dataclass(frozen=True)
class Operation:
    """One call of the API: a route and what it takes."""

    method: Literal["get", "post"]
    path: str
    summary: str
    query: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None
    admin: bool = False
    csrf: bool = True  # state-changing calls need the session's CSRF token
    about: Mapping[str, str] = field(default_factory=dict)  # path params said more precisely

    def path_params(self) -> list[dict[str, Any]]:
        out = []
        for name in _TEMPLATE_NAME.findall(self.path):
            if name not in PATH_PARAMS:
                raise ValueError(f"{self.path!r}: path parameter {name!r} is not in PATH_PARAMS")
            description, schema = PATH_PARAMS[name]
            out.append({"name": name, "in": "path", "required": True,
                        "description": self.about.get(name, description), "schema": dict(schema)})
        return out

    def spec(self) -> dict[str, Any]:
        params = self.path_params() + [p.spec() for p in self.query]
        if self.method == "post" and self.csrf:
            params.append(_CSRF.spec())
        errors = ("400", "401", "404") if self.method == "get" else ("400", "401", "403")
        if self.admin and "403" not in errors:
            errors += ("403",)
        ok = "The view's data." if self.method == "get" else "Done."
        responses: dict[str, Any] = {
            "200": {"description": ok,
                    "content": {"application/json": {"schema": dict(_OBJECT)}}},
            **{code: dict(_ERROR) for code in errors},
        }
        op: dict[str, Any] = {"summary": self.summary, "parameters": params,
                              "responses": responses}
        if self.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": dict(self.body)}}}
        return op


_CSRF = Param("X-CSRF-Token", "The session's CSRF token.", where="header", required=True)

_SEARCH = (
    Param("kind", "Document kind.", {"type": "string", "enum": list(KIND_ORDER)}),
    Param("q", "Query text in the syntax of `heroes search`."),
    Param("f", "Facet filter field:value (repeatable).", _many(_STRING)),
    Param("has", "Entity type a page must carry (repeatable).",
          _many({"type": "string", "enum": list(ENTITY_TYPES)})),
    Param("from", "Start: ISO date/time or relative (7d, 12h)."),
    Param("to", "End (exclusive): ISO date/time or relative."),
    Param("sort", "Order.", {"type": "string", "enum": list(SORTS)}),
    Param("after", "Paging cursor (`next_after` of the previous page)."),
    Param("size", "Hits per page (1-100).", _INTEGER),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/api/login", "Open a session; returns the CSRF token.",
              body=_props("name", "password", required=("name", "password")), csrf=False),
    Operation("get", "/api/search", "Search one document kind with facets and a date histogram.",
              _SEARCH),
    Operation("get", "/api/page/{id}",
              "One page: text, links, entities, media hashes and list hits.",
              about={"id": "Page id."}),
    Operation("get", "/api/service/{host}", "One onion service: history, pages, entities, links."),
    Operation("get", "/api/infohash/{infohash}",
              "One infohash: torrent metadata, peer observations, clients, pages."),
    Operation("post", "/api/infohash/{infohash}/export",
              "Export the evidence bundle of an infohash's observations."),
    Operation("post", "/api/export/{kind}/{id}",
              "An alert, service, infohash or cluster as a MISP event or STIX 2.1 bundle "
              "(audited; peers only where [exchange] include_peers allows).",
              body=_props("format", "tlp", required=("format",)),
              about={"kind": "alert, service, infohash or cluster.",
                     "id": "Alert id, onion, infohash or cluster id."}),
    Operation("get", "/api/entity/{type}/{value}",
              "Where an entity appears, and what co-occurs with it."),
    Operation("get", "/api/doc/{kind}/{id}", "Any document by kind and id."),
    Operation("get", "/api/alerts", "The alerts inbox.", (
        Param("status", "new or acknowledged."),
        Param("rule", "Rule name."),
        Param("severity", "Severity."),
        Param("id", "One alert by id."),
        Param("after", "Paging cursor."),
    )),
    Operation("post", "/api/alerts/{id}/ack", "Acknowledge an alert with a comment.",
              body=_props("comment"), about={"id": "Alert id."}),
    Operation("get", "/api/peers",
              "Peers of flagged swarms ranked by the priority score, with its terms.", (
                  Param("since", "Only sightings last seen at or after this time."),
                  Param("until", "Only sightings last seen before this time."),
                  Param("min_level", "Lowest evidence level (0-3).", _INTEGER),
                  Param("by64", "1: one row per IPv6 /64."),
                  Param("sort", "Column to sort by (default rank)."),
                  Param("order", "asc or desc."),
              )),
    Operation("get", "/api/peer/{ip}",
              "One peer: swarms, levels, times, location, hints, score explained."),
    Operation("post", "/api/peer/{ip}/assign",
              "Assign a peer to a case and analyst (or release it).",
              body=_props("case", "analyst", "note", "release")),
    Operation("get", "/api/clusters", "Clusters of linked services, largest first.", (
        Param("limit", "Clusters at most (default 50).", _INTEGER),
        Param("offset", "Clusters skipped first.", _INTEGER))),
    Operation("get", "/api/cluster/{id}", "One cluster: members and every edge with its reason.",
              about={"id": "Cluster id, or an onion member of it."}),
    Operation("get", "/api/timeline/{value}", "Where and when a phone or e-mail appeared.",
              about={"value": "A phone number or an e-mail address."}),
    Operation("get", "/api/sessions",
              "Services waiting for an analyst (captcha, login, js-required) with what each "
              "needs, and the sessions held (never their cookie values)."),
    Operation("post", "/api/sessions/import",
              "Import a cookie file as a session (multipart: onion, file)."),
    Operation("post", "/api/sessions/{id}/remove", "Remove a session.",
              about={"id": "Session id."}),
    Operation("get", "/api/hashes",
              "Flagged-hash lists: counts per list and type, precision (confirmed / decided "
              "hits) per list and per list source, each list's settings and suppressed/held "
              "counts, and the values in quarantine."),
    Operation("post", "/api/hashes/import", "Import a hash list (admin)."),
    Operation("post", "/api/hashes/quarantine/{action}",
              "Release a quarantined value (its held hits are matched again) or remove it "
              "from its lists (admin, audited).",
              body=_props("type", "value", required=("type", "value"))),
    Operation("post", "/api/hits/{kind}/{id}/decide",
              "Mark a hit of a document confirmed or a false positive (audited); a false "
              "positive's value may move to a negative list (admin).",
              body=_props("list", "value", "type", "comment", "negative_list",
                          required=("list", "verdict"),
                          verdict={"type": "string", "enum": ["confirmed", "false_positive"]}),
              about={"id": "Document id."}),
    Operation("get", "/api/users", "Console users and their roles (admin).", admin=True),
    Operation("get", "/api/audit",
              "The audit log, newest first, and whether its chain holds (admin).",
              (Param("action", "Only this action."), Param("user", "Only this user.")),
              admin=True),
)

_ERROR_BODY = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "param": {"type": "string"},
            },
        }
    },
}


def openapi() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        methods = paths.setdefault(op.path, {})
        if op.method in methods:
            raise ValueError(f"{op.method.upper()} {op.path} is described twice")
        methods[op.method] = op.spec()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "heroes analyst console API",
            "version": "1",
            "description": "Every call needs a session (POST /api/login); state-changing "
            "calls also need the X-CSRF-Token header. Every call is audited.",
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "heroes_session"}
            },
            "responses": {
                "Error": {
                    "description": "An error in words.",
                    "content": {"application/json": {"schema": _ERROR_BODY}},
                }
            },
        },
        "security": [{"session": []}],
        "paths": paths,
    }
