"""The base of every chatio namespace: authentication, validation, errors.

A subclass declares handlers with ``@handles(EVENT)`` and a schema per event;
this class validates payloads, maps domain errors to the wire once, and
keeps each socket's ``SocketSession``. It knows nothing of Socket.IO's
library: ``chatio.transport`` calls ``connect``, ``dispatch`` and
``disconnect`` for it.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError

from .. import constants as c
from ..addresses import forwarded_address
from ..connect_auth import authenticate
from ..errors import ChatioError, Internal, InvalidPayload, UnknownEvent, failure
from ..schemas import FastLoader
from ..services.session import SocketSession
from ..settings import Network
from ..tokens import Identity, TokenError, TokenIssuer

log = logging.getLogger("chatio.events")

Handler = Callable[[Any, SocketSession, dict[str, Any]],
                   Awaitable[dict[str, Any]]]


def handles(event: str) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of a client event."""
    def mark(method: Handler) -> Handler:
        method.chatio_event = event  # type: ignore[attr-defined]
        return method
    return mark


class EventNamespace:
    """A namespace whose events are validated, ordered and acked uniformly."""

    # (event, error code) pairs that are dropped silently when the client
    # asked for no ack, instead of being reported as ``chatio_error``.
    quiet_failures: frozenset[tuple[str, str]] = frozenset()

    def __init__(self, namespace: str, *, issuer: TokenIssuer,
                 trusted_proxies: tuple[Network, ...],
                 schemas: Mapping[str, Schema]) -> None:
        self.namespace = namespace
        self.sessions: dict[str, SocketSession] = {}
        self._issuer = issuer
        self._trusted = trusted_proxies
        self._schemas = dict(schemas)
        # Optional shortcuts that give the schema's result for ordinary
        # valid payloads and None for anything else.
        self._fast_loaders: dict[str, FastLoader] = {}
        self._handlers: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {}
        for name in dir(type(self)):
            method = getattr(self, name)
            event = getattr(method, "chatio_event", None)
            if event is not None:
                self._handlers[event] = method
        missing = set(self._handlers) ^ set(self._schemas)
        if missing:
            raise TypeError(f"handlers and schemas differ on {sorted(missing)}")

    @property
    def events(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def connect(self, sid: str, environ: dict[str, Any],
                      auth: Any = None) -> SocketSession:
        """Authenticate a new socket; ``TokenError`` refuses it."""
        identity, address = self.authenticate(environ, auth)
        return await self.open_session(sid, identity, address)

    def authenticate(self, environ: dict[str, Any],
                     auth: Any = None) -> tuple[Identity, str]:
        """Who connects and from which address; ``TokenError`` refuses."""
        address = forwarded_address(environ.get("REMOTE_ADDR", ""),
                                    environ.get("HTTP_X_FORWARDED_FOR", ""),
                                    self._trusted)
        try:
            identity = authenticate(self._issuer, environ, auth)
        except TokenError as exc:
            log.info("connection refused", extra={"fields": {
                "namespace": self.namespace, "address": address,
                "code": exc.code, "reason": exc.reason}})
            raise
        return identity, address

    async def open_session(self, sid: str, identity: Identity,
                           address: str, recovered: bool = False
                           ) -> SocketSession:
        """Accept an authenticated socket (before any of its events)."""
        session = SocketSession(sid=sid, identity=identity, address=address)
        self.sessions[sid] = session
        await self.connected(session)
        log.info("recovered" if recovered else "connected", extra={"fields": {
            "namespace": self.namespace, "sid": sid,
            "user": identity.user_id, "address": address}})
        return session

    async def restore(self, session: SocketSession,
                      rooms: list[str]) -> list[tuple[str, Any]]:
        """Hook: put a recovered socket back in ``rooms`` (those its token
        still allows); returns the events that resynchronise its state."""
        return []

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        """A socket left (after every event it sent ran)."""
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        try:
            await self.disconnected(session)
        except Exception:
            log.exception("disconnect cleanup failed")
        log.info("disconnected", extra={"fields": {
            "namespace": self.namespace, "sid": sid,
            "user": session.user_id, "reason": str(reason)}})

    async def connected(self, session: SocketSession) -> None:
        """Hook: a socket was accepted (before any of its events)."""

    async def disconnected(self, session: SocketSession) -> None:
        """Hook: clean up after a socket left (in order after its events)."""

    def reports(self, event: Any, result: dict[str, Any]) -> bool:
        """Whether a failed result without an ack becomes ``chatio_error``."""
        return (event, result["error"]["code"]) not in self.quiet_failures

    async def dispatch(self, sid: str, event: Any, args: list[Any]) -> dict[str, Any]:
        """Run one client event and return its ack payload."""
        try:
            handler = self._handlers.get(event) if isinstance(event, str) else None
            if handler is None:
                raise UnknownEvent()
            session = self.sessions.get(sid)
            if session is None:  # disconnected while the event waited
                raise UnknownEvent("the socket is not connected")
            if len(args) != 1:
                raise InvalidPayload(
                    f"expected exactly one payload argument, got {len(args)}",
                    details={"_schema": ["Expected one payload object."]})
            fast = self._fast_loaders.get(event)
            payload = fast(args[0]) if fast is not None else None
            if payload is None:
                try:
                    payload = self._schemas[event].load(args[0])
                except ValidationError as exc:
                    raise InvalidPayload(details=_describe(exc)) from None
            result = await handler(session, payload)
        except ChatioError as exc:
            if exc.code == c.UNAVAILABLE:
                log.warning("store unavailable", extra={"fields": {
                    "namespace": self.namespace, "event": event,
                    "error": exc.message}})
            return failure(exc)
        except Exception:
            log.exception("unexpected error handling %r", event)
            return failure(Internal())
        return {"ok": True, **result}


def _describe(error: ValidationError) -> dict[str, Any]:
    # Bounded whatever the input was: keys come from the client.
    messages = error.messages
    if not isinstance(messages, dict):
        return {"_schema": [str(m)[:200] for m in list(messages)[:10]]}
    return {str(key)[:64]: value for key, value in list(messages.items())[:20]}
