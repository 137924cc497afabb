"""HTTP routes: health, readiness, token minting and guest login."""
from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from aiohttp import web
from marshmallow import Schema, ValidationError, fields, validate

from . import constants as c
from .addresses import client_address
from .appkeys import BACKENDS, GUEST_LIMITER, GUEST_REFUSALS, ISSUER, SETTINGS
from .errors import Unavailable
from .origins import origin_allowed, request_origins
from .schemas import StrictNumber, StrictString
from .tokens import MAX_ID_CHARS, MAX_NAME_CHARS, MAX_PATTERNS, TokenError

log = logging.getLogger("chatio.api")
routes = web.RouteTableDef()


def _name() -> fields.Field:
    return StrictString(validate=[
        validate.Length(1, MAX_NAME_CHARS),
        validate.Predicate("isprintable", error="Must be printable."),
    ])


class TokenRequestSchema(Schema):
    sub = StrictString(required=True, validate=[
        validate.Length(1, MAX_ID_CHARS),
        validate.Predicate("isprintable", error="Must be printable."),
    ])
    name = _name()
    rooms = fields.List(StrictString(validate=validate.Length(1, 256)),
                        validate=validate.Length(max=MAX_PATTERNS))
    ttl = StrictNumber(validate=validate.Range(1, 10**9))


class GuestRequestSchema(Schema):
    name = _name()
    token = StrictString(validate=validate.Length(1, 8192))


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves HTTP."""
    return web.json_response({"ok": True})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 when every dependency answers, else 503; the body
    says which dependency failed and why."""
    checks: dict[str, dict[str, Any]] = {}
    for name, check in request.app[BACKENDS].checks.items():
        try:
            await check()
        except Unavailable as exc:
            checks[name] = {"ok": False, "error": exc.message}
        else:
            checks[name] = {"ok": True}
    ready = all(result["ok"] for result in checks.values())
    return web.json_response({"ok": ready, "checks": checks},
                             status=200 if ready else 503)


@routes.post("/api/tokens")
async def mint_token(request: web.Request) -> web.Response:
    """Server-to-server minting, behind ``Authorization: Bearer $CHATIO_API_KEY``."""
    api_key = request.app[SETTINGS].api_key
    if not api_key:
        raise web.HTTPNotFound()
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), api_key.encode()):
        return _error(401, c.UNAUTHORIZED, "a valid API key is required")
    body = await _load(request, TokenRequestSchema())
    if body["sub"].startswith(c.GUEST_PREFIX):
        return _error(400, c.INVALID_PAYLOAD,
                      f"ids starting with {c.GUEST_PREFIX!r} are reserved")
    issuer = request.app[ISSUER]
    ttl = body.get("ttl")
    try:
        token = issuer.mint(body["sub"], name=body.get("name"),
                            rooms=body.get("rooms"), ttl=ttl)
    except TokenError as exc:
        return _error(400, c.INVALID_PAYLOAD, f"cannot mint that token: {exc.reason}")
    return web.json_response({"token": token, "expires_in": issuer.expires_in(ttl)})


@routes.post("/api/guest")
async def guest_login(request: web.Request) -> web.Response:
    """A token for a fresh guest id, or a renewed one for the same id."""
    settings = request.app[SETTINGS]
    if not settings.guest_login:
        raise web.HTTPNotFound()
    address = client_address(request, settings.trusted_proxies)
    refused = _cross_site_refusal(request, address)
    if refused is not None:
        return refused
    retry_after = await request.app[GUEST_LIMITER].acquire(address)
    if retry_after > 0:
        response = _error(429, c.RATE_LIMITED, "too many guest logins",
                          {"retry_after_ms": max(1, round(retry_after * 1000))})
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
        return response
    body = await _load(request, GuestRequestSchema())
    issuer = request.app[ISSUER]
    if "token" in body:
        try:
            previous = issuer.verify_for_renewal(body["token"])
        except TokenError as exc:
            return _error(401, exc.code, "the guest token cannot be renewed")
        user_id, name = previous.user_id, body.get("name", previous.name)
    else:
        if "name" not in body:
            return _error(400, c.INVALID_PAYLOAD, "a name is required",
                          {"name": ["Missing data for required field."]})
        user_id, name = c.GUEST_PREFIX + secrets.token_hex(8), body["name"]
    token = issuer.mint(user_id, name=name)
    return web.json_response({"token": token, "expires_in": issuer.expires_in(None),
                              "user": {"id": user_id, "name": name}})


def _cross_site_refusal(request: web.Request,
                        address: str) -> web.Response | None:
    """Refuse what a page on another site could make a visitor's browser
    send (login CSRF, spending the visitor's guest budget): a foreign
    ``Origin``, or a body not sent as ``application/json``, which cross-site
    forms and simple requests cannot do."""
    settings = request.app[SETTINGS]
    refusals = request.app[GUEST_REFUSALS]
    origins = request.headers.getall("Origin", [])
    if origins:
        allowed = request_origins(request, settings.cors_origins,
                                  settings.trusted_proxies)
        if not all(origin_allowed(origin, allowed) for origin in origins):
            refusals.log("guest-origin", "guest login from a foreign origin "
                         "refused", fields={"address": address,
                                            "origin": origins[0][:200]})
            return _error(403, c.FORBIDDEN,
                          "requests from this origin are not allowed")
    if request.content_type != "application/json":
        refusals.log("guest-content-type", "guest login without a JSON "
                     "content type refused", fields={"address": address})
        return _error(415, c.INVALID_PAYLOAD,
                      "the body must be sent as application/json")
    return None


async def _load(request: web.Request, schema: Schema) -> dict[str, Any]:
    try:
        raw = await request.json()
    except ValueError:
        raise _http_error(web.HTTPBadRequest, c.INVALID_PAYLOAD,
                          "the body must be JSON") from None
    try:
        return schema.load(raw)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {
            "_schema": exc.messages}
        raise _http_error(web.HTTPBadRequest, c.INVALID_PAYLOAD,
                          "the body is invalid", messages) from None


def _error(status: int, code: str, message: str,
           details: dict[str, Any] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message,
                             "retryable": code in c.RETRYABLE_CODES}
    if details is not None:
        error["details"] = details
    return web.json_response({"ok": False, "error": error}, status=status)


def _http_error(cls: type[web.HTTPException], code: str, message: str,
                details: dict[str, Any] | None = None) -> web.HTTPException:
    response = _error(cls.status_code, code, message, details)
    return cls(text=response.text, content_type="application/json")
