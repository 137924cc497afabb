"""The server API for backends: publish, edit, delete, disconnect, room
state, history.

Every route needs ``Authorization: Bearer $CHATIO_API_KEY`` and exists only
when that key is set. Bodies and query strings are validated as strictly as
event payloads; publishing goes through ``ChatService.send``, so ``seq``,
history, limits and ``client_id`` idempotency are those of ``message``.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from marshmallow import Schema, fields, validate

from . import constants as c
from .appkeys import CHANGES, CHAT, PRESENCE, SETTINGS, SIO
from .errors import ChatioError, RateLimited
from .http_json import error, http_error, load_body, load_data, require_api_key
from .schemas import (DeleteSchema, HistorySchema, StrictString, edit_schema,
                      message_schema)
from .tokens import MAX_ID_CHARS, MAX_NAME_CHARS, Identity

log = logging.getLogger("chatio.server_api")
routes = web.RouteTableDef()

# Who a message published without ``user`` comes from.
SYSTEM_USER = Identity("system", "system")
MAX_REASON_CHARS = 200
_DIGITS = re.compile(r"^[0-9]{1,16}\Z")
_STATUS = {c.INVALID_PAYLOAD: 400, c.NOT_FOUND: 404, c.RATE_LIMITED: 429,
           c.UNAVAILABLE: 503}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _printable(low: int, high: int, **kwargs: Any) -> fields.Field:
    return StrictString(validate=[
        validate.Length(low, high),
        validate.Predicate("isprintable", error="Must be printable."),
    ], **kwargs)


class UserSchema(Schema):
    id = _printable(1, MAX_ID_CHARS, required=True)
    name = _printable(1, MAX_NAME_CHARS)


class DisconnectSchema(Schema):
    user = _printable(1, MAX_ID_CHARS, required=True)
    reason = _printable(1, MAX_REASON_CHARS)


def publish_schema(max_chars: int) -> Schema:
    """``message``'s payload schema plus an optional ``user``."""
    fields_ = dict(message_schema(max_chars).fields)
    fields_["user"] = fields.Nested(UserSchema)
    return Schema.from_dict(fields_, name="PublishSchema")()


def change_schema(max_chars: int | None) -> Schema:
    """``edit``'s payload schema (``delete``'s without a text limit), plus
    an optional ``user`` to act as."""
    base = edit_schema(max_chars) if max_chars is not None else DeleteSchema()
    fields_ = dict(base.fields)
    fields_["user"] = fields.Nested(UserSchema)
    return Schema.from_dict(
        fields_, name="EditBody" if max_chars is not None else "DeleteBody")()


def _acting(user: dict[str, Any] | None) -> Identity:
    """Who a backend acts as: ``user``, or the system user."""
    if user is None:
        return SYSTEM_USER
    if "name" not in user and len(user["id"]) > MAX_NAME_CHARS:
        # As for tokens: a name defaults to the id only when it fits.
        raise http_error(web.HTTPBadRequest, c.INVALID_PAYLOAD,
                         "the body is invalid", {"user": {"name": [
                             f"Required when the id is longer than "
                             f"{MAX_NAME_CHARS} characters."]}})
    return Identity(user["id"], user.get("name", user["id"]))


def _guarded(handler: Handler) -> Handler:
    """Check the API key, then map domain errors to JSON responses."""
    async def run(request: web.Request) -> web.StreamResponse:
        require_api_key(request)
        try:
            return await handler(request)
        except ChatioError as exc:
            return _failure(exc)
    run.__doc__ = handler.__doc__
    return run


@routes.post("/api/publish")
@_guarded
async def publish(request: web.Request) -> web.Response:
    """Store and broadcast a message as ``user`` (default ``system``)."""
    max_chars = request.app[SETTINGS].max_message_chars
    body = await load_body(request, publish_schema(max_chars))
    identity = _acting(body.pop("user", None))
    result = await request.app[CHAT].publish(identity, **body)
    return web.json_response({"ok": True, **result})


@routes.post("/api/edit")
@_guarded
async def edit(request: web.Request) -> web.Response:
    """Replace the text of any message, as ``user`` (default ``system``)."""
    return await _moderate(request, request.app[SETTINGS].max_message_chars)


@routes.post("/api/delete")
@_guarded
async def delete(request: web.Request) -> web.Response:
    """Delete any message, text and all, as ``user`` (default ``system``)."""
    return await _moderate(request, None)


async def _moderate(request: web.Request, max_chars: int | None) -> web.Response:
    body = await load_body(request, change_schema(max_chars))
    identity = _acting(body.pop("user", None))
    result = await request.app[CHANGES].moderate(identity, **body)
    return web.json_response({"ok": True, **result})


@routes.post("/api/disconnect")
@_guarded
async def disconnect(request: web.Request) -> web.Response:
    """Disconnect every socket of a user on every node."""
    body = await load_body(request, DisconnectSchema())
    notice = {"event": None, "error": {
        "code": c.KICKED, "retryable": False,
        "message": body.get("reason", "disconnected by the server")}}
    here = await request.app[SIO].disconnect_user(body["user"], notice)
    log.info("user disconnected by the API", extra={"fields": {
        "user": body["user"], "sockets_here": here}})
    return web.json_response({"ok": True})


@routes.get("/api/rooms/{room}")
@_guarded
async def room_state(request: web.Request) -> web.Response:
    """Who is present (with their device counts), the last ``seq`` and the
    room's epoch."""
    room = _room(request)
    _query(request, set())
    members = await request.app[PRESENCE].occupants(room)
    epoch, last_seq = await request.app[CHAT].position(room)
    return web.json_response({"ok": True, "room": room, "members": members,
                              "last_seq": last_seq, "epoch": epoch})


@routes.get("/api/rooms/{room}/history")
@_guarded
async def room_history(request: web.Request) -> web.Response:
    """A page of history, as the socket ``history`` event answers it."""
    room = _room(request)
    query = _query(request, {"before", "after", "limit"}, {"epoch"})
    page = load_data(HistorySchema(), {"room": room, **query},
                     "the query is invalid")
    page.pop("room")
    result = await request.app[CHAT].read(room, **page)
    return web.json_response({"ok": True, **result})


def _room(request: web.Request) -> str:
    room = request.match_info["room"]
    if not c.ROOM_NAME_PATTERN.match(room):
        raise http_error(web.HTTPBadRequest, c.INVALID_PAYLOAD,
                         "the room name is invalid", {"room": [
                             "Must be 1 to 64 of A-Z a-z 0-9 _ . : @ -."]})
    return room


def _query(request: web.Request, allowed: set[str],
           texts: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """The query parameters: ``allowed`` as integers, ``texts`` as strings
    (for the schema to check); unknown, repeated or non-numeric ones are
    refused."""
    values: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for key in request.query:
        raw = request.query.getall(key)
        if key not in allowed and key not in texts:
            problems[key[:64]] = ["Unknown field."]
        elif len(raw) != 1:
            problems[key] = ["Give it once."]
        elif key in texts:
            values[key] = raw[0]
        elif not _DIGITS.match(raw[0]):
            problems[key] = ["Not a valid integer."]
        else:
            values[key] = int(raw[0])
    if problems:
        raise http_error(web.HTTPBadRequest, c.INVALID_PAYLOAD,
                         "the query is invalid", dict(list(problems.items())[:20]))
    return values


def _failure(exc: ChatioError) -> web.Response:
    if exc.code == c.UNAVAILABLE:
        log.warning("store unavailable", extra={"fields": {"error": exc.message}})
    wire = exc.to_wire()
    response = error(_STATUS.get(exc.code, 500), exc.code, wire["message"],
                     wire.get("details"))
    if isinstance(exc, RateLimited):
        retry_ms = wire["details"]["retry_after_ms"]
        response.headers["Retry-After"] = str(max(1, round(retry_ms / 1000)))
    return response
