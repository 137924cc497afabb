"""JSON plumbing shared by the HTTP routes: error bodies, body validation
and the ``CHATIO_API_KEY`` bearer check."""
from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from marshmallow import Schema, ValidationError

from . import constants as c
from .appkeys import SETTINGS


def error(status: int, code: str, message: str,
          details: dict[str, Any] | None = None) -> web.Response:
    """A ``{ok: false, error: {code, message, retryable}}`` response."""
    body: dict[str, Any] = {"code": code, "message": message,
                            "retryable": code in c.RETRYABLE_CODES}
    if details is not None:
        body["details"] = details
    return web.json_response({"ok": False, "error": body}, status=status)


def http_error(cls: type[web.HTTPException], code: str, message: str,
               details: dict[str, Any] | None = None) -> web.HTTPException:
    """``error`` as an exception a handler can raise."""
    response = error(cls.status_code, code, message, details)
    return cls(text=response.text, content_type="application/json")


def validation_details(exc: ValidationError) -> dict[str, Any]:
    """Marshmallow's messages as ``details``, bounded in size."""
    messages = exc.messages
    if not isinstance(messages, dict):
        return {"_schema": [str(m)[:200] for m in list(messages)[:10]]}
    return {str(key)[:64]: value for key, value in list(messages.items())[:20]}


async def load_body(request: web.Request, schema: Schema) -> dict[str, Any]:
    """The request's JSON body loaded by ``schema``; 400 when it is not."""
    try:
        raw = await request.json()
    except (ValueError, RecursionError):
        raise http_error(web.HTTPBadRequest, c.INVALID_PAYLOAD,
                         "the body must be JSON") from None
    return load_data(schema, raw, "the body is invalid")


def load_data(schema: Schema, raw: Any, message: str) -> dict[str, Any]:
    """``raw`` loaded by ``schema``; 400 ``INVALID_PAYLOAD`` when invalid."""
    try:
        return schema.load(raw)
    except ValidationError as exc:
        raise http_error(web.HTTPBadRequest, c.INVALID_PAYLOAD, message,
                         validation_details(exc)) from None
    except RecursionError:
        raise http_error(web.HTTPBadRequest, c.INVALID_PAYLOAD, message
                         ) from None


def require_api_key(request: web.Request) -> None:
    """404 when no ``CHATIO_API_KEY`` is set, 401 unless the request
    carries it as ``Authorization: Bearer``; compared in constant time."""
    api_key = request.app[SETTINGS].api_key
    if not api_key:
        raise web.HTTPNotFound()
    scheme, _, presented = request.headers.get("Authorization",
                                               "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), api_key.encode()):
        raise http_error(web.HTTPUnauthorized, c.UNAUTHORIZED,
                         "a valid API key is required")
