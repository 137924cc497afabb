"""The OpenAPI 3.0 document of the HTTP API, served at ``/api/openapi.json``.

It is written by hand next to the routes it describes; the schemathesis
test (``tests/functional/test_openapi.py``) sends requests generated from
it and checks the answers against it.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from . import constants as c
from .release import release
from .schemas import MAX_EPOCH_CHARS, MAX_SAFE_INTEGER
from .tokens import MAX_ID_CHARS, MAX_NAME_CHARS, MAX_PATTERNS

routes = web.RouteTableDef()

JSON = "application/json"
ROOM = {"type": "string", "pattern": "^[A-Za-z0-9_.:@-]{1,64}$"}
SEQ = {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER}
# A room epoch as chatio hands it out.
EPOCH = {"type": "string", "pattern": "^[0-9a-f]{16}$"}
BEARER = [{"apiKey": []}]
TARGET = {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER}
ACTING_USER = {"type": "object", "additionalProperties": False,
               "required": ["id"], "properties": {
                   "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
                   "name": {"type": "string", "minLength": 1,
                            "maxLength": MAX_NAME_CHARS}}}
# An edit or delete entry: a log entry of its own (see docs/protocol.md).
CHANGED = {"type": "object", "additionalProperties": False,
           "required": ["ok", "message", "duplicate"], "properties": {
               "ok": {"type": "boolean", "enum": [True]},
               "message": {"type": "object"},
               "duplicate": {"type": "boolean"}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], required: tuple[str, ...] = (),
            closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def _text(low: int, high: int) -> dict[str, Any]:
    return {"type": "string", "minLength": low, "maxLength": high}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    """Error responses; 404 is aiohttp's plain text."""
    described = {
        400: "invalid body or query", 401: "missing or wrong API key",
        403: "origin not allowed", 415: "body not sent as JSON",
        429: "rate limited", 503: "storage unavailable",
    }
    out: dict[str, Any] = {str(s): _json(_ref("Failure"), described[s])
                           for s in statuses if s != 404}
    out["404"] = {"description": "the route is disabled or does not exist "
                  "(plain text), or the message is not found (NOT_FOUND)",
                  "content": {"text/plain": {"schema": {"type": "string"}},
                              JSON: {"schema": _ref("Failure")}}}
    return out


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _components() -> dict[str, Any]:
    user = _object({"id": _text(1, MAX_ID_CHARS),
                    "name": _text(1, MAX_NAME_CHARS)}, ("id", "name"))
    return {
        "securitySchemes": {"apiKey": {
            "type": "http", "scheme": "bearer",
            "description": "the value of CHATIO_API_KEY"}},
        "schemas": {
            "Failure": _object({
                "ok": {"type": "boolean", "enum": [False]},
                "error": _object({
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "retryable": {"type": "boolean"},
                    "details": {"type": "object"},
                }, ("code", "message", "retryable")),
            }, ("ok", "error")),
            "User": user,
            "Message": _object({
                "id": {"type": "string"}, "room": ROOM, "seq": SEQ,
                "epoch": EPOCH,
                "user": user, "text": {"type": "string"},
                "ts": {"type": "integer"},
                "client_id": {"type": "string"},
            # A deleted message has no text.
            }, ("id", "room", "seq", "epoch", "user", "ts"), closed=False),
            "Page": _object({
                "ok": {"type": "boolean", "enum": [True]},
                "messages": {"type": "array", "items": _ref("Message")},
                "more": {"type": "boolean"}, "gap": {"type": "boolean"},
                "epoch": EPOCH,
            }, ("ok", "messages", "more", "epoch")),
        },
    }


def _server_api() -> dict[str, Any]:
    room_param = {"name": "room", "in": "path", "required": True,
                  "schema": ROOM}
    seq_param = {"in": "query", "required": False, "schema": SEQ}
    return {
        "/api/publish": {"post": {
            "summary": "Store and broadcast a message, like the message event",
            "security": BEARER,
            "requestBody": _body(_object({
                "room": ROOM, "text": {"type": "string", "minLength": 1},
                "user": _object({"id": _text(1, MAX_ID_CHARS),
                                 "name": _text(1, MAX_NAME_CHARS)}, ("id",)),
                "client_id": _text(1, c.CLIENT_ID_MAX_CHARS),
            }, ("room", "text"))),
            "responses": {"200": _json(_object({
                "ok": {"type": "boolean", "enum": [True]},
                "message": _ref("Message"), "duplicate": {"type": "boolean"},
            }, ("ok", "message", "duplicate")), "stored (or a resend)"),
                **_errors(400, 401, 429, 503)},
        }},
        "/api/edit": {"post": {
            "summary": "Replace the text of any message, like the edit event",
            "security": BEARER,
            "requestBody": _body(_object({
                "room": ROOM, "seq": TARGET,
                "text": {"type": "string", "minLength": 1},
                "user": ACTING_USER,
                "client_id": _text(1, c.CLIENT_ID_MAX_CHARS),
            }, ("room", "seq", "text"))),
            "responses": {"200": _json(CHANGED, "stored (or a resend)"),
                          **_errors(400, 401, 404, 429, 503)},
        }},
        "/api/delete": {"post": {
            "summary": "Delete any message, text and all, like the delete event",
            "security": BEARER,
            "requestBody": _body(_object({
                "room": ROOM, "seq": TARGET, "user": ACTING_USER,
                "client_id": _text(1, c.CLIENT_ID_MAX_CHARS),
            }, ("room", "seq"))),
            "responses": {"200": _json(CHANGED, "stored (or a resend)"),
                          **_errors(400, 401, 404, 429, 503)},
        }},
        "/api/disconnect": {"post": {
            "summary": "Disconnect every socket of a user on every node",
            "security": BEARER,
            "requestBody": _body(_object({
                "user": _text(1, MAX_ID_CHARS), "reason": _text(1, 200),
            }, ("user",))),
            "responses": {"200": _json(_object(
                {"ok": {"type": "boolean", "enum": [True]}}, ("ok",)),
                "the user's sockets are being disconnected"),
                **_errors(400, 401)},
        }},
        "/api/rooms/{room}": {"get": {
            "summary": "Presence and the last seq of a room",
            "security": BEARER, "parameters": [room_param],
            "responses": {"200": _json(_object({
                "ok": {"type": "boolean", "enum": [True]}, "room": ROOM,
                "last_seq": SEQ, "epoch": EPOCH,
                "members": {"type": "array", "items": _object({
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "devices": {"type": "integer", "minimum": 0},
                }, ("id", "name", "devices"))},
            }, ("ok", "room", "last_seq", "epoch", "members")), "the room"),
                **_errors(400, 401, 503)},
        }},
        "/api/rooms/{room}/history": {"get": {
            "summary": "A page of history, like the history event",
            "security": BEARER,
            "parameters": [
                room_param, {**seq_param, "name": "before"},
                {**seq_param, "name": "after"},
                {"name": "epoch", "in": "query", "required": False,
                 "description": "the epoch of before or after; another "
                 "epoch's position gets the newest page with gap",
                 "schema": _text(1, MAX_EPOCH_CHARS)},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0,
                            "maximum": c.MAX_PAGE_LIMIT}}],
            "responses": {"200": _json(_ref("Page"), "oldest first"),
                          **_errors(400, 401, 503)},
        }},
    }


def _node_api() -> dict[str, Any]:
    check = _object({"ok": {"type": "boolean"}, "error": {"type": "string"}},
                    ("ok",))
    ready = _json(_object({"ok": {"type": "boolean"}, "checks": {
        "type": "object", "additionalProperties": check}}, ("ok", "checks")),
        "every dependency answers (200) or not (503)")
    token = {"token": {"type": "string"}, "expires_in": {"type": "integer"}}
    return {
        "/healthz": {"get": {"summary": "Liveness", "responses": {
            "200": _json(_object({"ok": {"type": "boolean"}}, ("ok",)),
                         "the process serves HTTP")}}},
        "/readyz": {"get": {"summary": "Readiness",
                            "responses": {"200": ready, "503": ready}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "Prometheus or OpenMetrics text",
                    "content": {"text/plain": {"schema": {"type": "string"}},
                                "application/openmetrics-text": {
                                    "schema": {"type": "string"}}}}}}},
        "/api/openapi.json": {"get": {"summary": "This document", "responses": {
            "200": _json({"type": "object"}, "OpenAPI 3.0")}}},
        "/api/tokens": {"post": {
            "summary": "Mint a token for a user", "security": BEARER,
            "requestBody": _body(_object({
                "sub": _text(1, MAX_ID_CHARS), "name": _text(1, MAX_NAME_CHARS),
                "rooms": {"type": "array", "maxItems": MAX_PATTERNS,
                          "items": _text(1, 256)},
                "ttl": {"type": "number", "minimum": 1, "maximum": 10**9},
            }, ("sub",))),
            "responses": {"200": _json(_object(token, ("token", "expires_in")),
                                       "minted"), **_errors(400, 401)},
        }},
        "/api/guest": {"post": {
            "summary": "Log in, or renew a login, as a guest",
            "requestBody": _body(_object({
                "name": _text(1, MAX_NAME_CHARS), "token": _text(1, 8192)})),
            "responses": {"200": _json(_object(
                {**token, "user": _ref("User")},
                ("token", "expires_in", "user")), "token issued"),
                **_errors(400, 401, 403, 415, 429)},
        }},
    }


def document() -> dict[str, Any]:
    """The whole HTTP API as an OpenAPI 3.0 document."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "chatio HTTP API", "version": release(),
                 "description": "See docs/protocol.md#http-api."},
        "paths": {**_node_api(), **_server_api()},
        "components": _components(),
    }


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI document of this node's HTTP API."""
    return web.json_response(document())
