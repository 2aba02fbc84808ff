"""The OpenAPI 3.1 description of the console's JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from heroes.console.searchreq import ENTITY_TYPES, KIND_ORDER, SORTS


def _param(
    name: str,
    where: str,
    description: str,
    *,
    required: bool = False,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _get(summary: str, *params: dict[str, Any], admin: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "The view's data.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
    }
    if admin:
        responses["403"] = {"$ref": "#/components/responses/Error"}
    return {"get": {"summary": summary, "parameters": list(params), "responses": responses}}


def _post(
    summary: str, *params: dict[str, Any], body: dict[str, Any] | None = None, csrf: bool = True
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": list(params),
        "responses": {
            "200": {
                "description": "Done.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
        },
    }
    if csrf:
        op["parameters"].append(
            _param("X-CSRF-Token", "header", "The session's CSRF token.", required=True)
        )
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return {"post": op}


def openapi() -> dict[str, Any]:
    search_params = [
        _param(
            "kind", "query", "Document kind.", schema={"type": "string", "enum": list(KIND_ORDER)}
        ),
        _param("q", "query", "Query text in the syntax of `heroes search`."),
        _param(
            "f",
            "query",
            "Facet filter field:value (repeatable).",
            schema={"type": "array", "items": {"type": "string"}},
        ),
        _param(
            "has",
            "query",
            "Entity type a page must carry (repeatable).",
            schema={"type": "array", "items": {"type": "string", "enum": list(ENTITY_TYPES)}},
        ),
        _param("from", "query", "Start: ISO date/time or relative (7d, 12h)."),
        _param("to", "query", "End (exclusive): ISO date/time or relative."),
        _param("sort", "query", "Order.", schema={"type": "string", "enum": list(SORTS)}),
        _param("after", "query", "Paging cursor (`next_after` of the previous page)."),
        _param("size", "query", "Hits per page (1-100).", schema={"type": "integer"}),
    ]
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
                    "content": {
                        "application/json": {
                            "schema": {
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
                        }
                    },
                }
            },
        },
        "security": [{"session": []}],
        "paths": {
            "/api/login": _post(
                "Open a session; returns the CSRF token.",
                body={
                    "type": "object",
                    "required": ["name", "password"],
                    "properties": {"name": {"type": "string"}, "password": {"type": "string"}},
                },
                csrf=False,
            ),
            "/api/search": _get(
                "Search one document kind with facets and a date histogram.", *search_params
            ),
            "/api/page/{id}": _get(
                "One page: text, links, entities, media hashes and list hits.",
                _param("id", "path", "Page id."),
            ),
            "/api/service/{host}": _get(
                "One onion service: history, pages, entities, links.",
                _param("host", "path", "Onion host."),
            ),
            "/api/infohash/{infohash}": _get(
                "One infohash: torrent metadata, peer observations, clients, pages.",
                _param("infohash", "path", "40 or 64 hex digits."),
            ),
            "/api/infohash/{infohash}/export": _post(
                "Export the evidence bundle of an infohash's observations.",
                _param("infohash", "path", "40 or 64 hex digits."),
            ),
            "/api/entity/{type}/{value}": _get(
                "Where an entity appears, and what co-occurs with it.",
                _param(
                    "type",
                    "path",
                    "Entity type.",
                    schema={"type": "string", "enum": list(ENTITY_TYPES)},
                ),
                _param("value", "path", "The entity."),
            ),
            "/api/doc/{kind}/{id}": _get(
                "Any document by kind and id.",
                _param("kind", "path", "Kind."),
                _param("id", "path", "Id."),
            ),
            "/api/alerts": _get(
                "The alerts inbox.",
                _param("status", "query", "new or acknowledged."),
                _param("rule", "query", "Rule name."),
                _param("severity", "query", "Severity."),
                _param("id", "query", "One alert by id."),
                _param("after", "query", "Paging cursor."),
            ),
            "/api/alerts/{id}/ack": _post(
                "Acknowledge an alert with a comment.",
                _param("id", "path", "Alert id."),
                body={"type": "object", "properties": {"comment": {"type": "string"}}},
            ),
            "/api/hashes": _get("Flagged-hash lists: counts per list and type."),
            "/api/hashes/import": _post("Import a hash list (admin)."),
            "/api/users": _get("Console users and their roles (admin).", admin=True),
            "/api/audit": _get(
                "The audit log, newest first, and whether its chain holds (admin).",
                _param("action", "query", "Only this action."),
                _param("user", "query", "Only this user."),
                admin=True,
            ),
        },
    }
