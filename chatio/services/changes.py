"""Edits, deletes and reactions: changes to messages already in a room."""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from ..constants import EVENT_MESSAGE, EVENT_REACTION
from ..errors import NotInRoom, RateLimited
from ..fanout import Fanout
from ..ratelimit import RateLimiter
from ..store import Change, HistoryStore
from ..tokens import Identity
from .session import SocketSession

log = logging.getLogger(__name__)


class ChangeService:
    """Stores edits and deletes as log entries and broadcasts them like
    messages; keeps reactions and broadcasts their deltas."""

    def __init__(self, store: HistoryStore, limiter: RateLimiter,
                 fanout: Fanout) -> None:
        self._store = store
        self._limiter = limiter
        self._fanout = fanout

    async def edit(self, session: SocketSession, room: str, seq: int,
                   text: str, client_id: str | None = None) -> dict[str, Any]:
        """Replace the text of the author's message at ``seq``."""
        return await self._change(session, room, seq, text, client_id)

    async def delete(self, session: SocketSession, room: str, seq: int,
                     client_id: str | None = None) -> dict[str, Any]:
        """Delete the author's message at ``seq``, text and all."""
        return await self._change(session, room, seq, None, client_id)

    async def moderate(self, identity: Identity, room: str, seq: int,
                       text: str | None = None,
                       client_id: str | None = None) -> dict[str, Any]:
        """An edit (with ``text``) or a delete (without) made by a backend
        as ``identity``: of any author's message, broadcast to the whole
        room, and idempotent by ``client_id`` like the socket events."""
        session = SocketSession(sid=f"api-{uuid.uuid4().hex}",
                                identity=identity, address="api",
                                rooms={room})
        return await self._change(session, room, seq, text, client_id,
                                  by_backend=True)

    async def react(self, session: SocketSession, room: str, seq: int,
                    emoji: str, on: bool) -> dict[str, Any]:
        """Set or clear the user's ``emoji`` on the message at ``seq``."""
        await self._admit(session, room)
        reacted = await self._store.react(room, seq, session.user_id,
                                          emoji, on)
        delta = {"room": room, "seq": seq, "emoji": emoji,
                 "count": reacted.count, "on": on,
                 "user": {"id": session.user_id,
                          "name": session.identity.name}}
        if reacted.changed:
            await self._fanout.broadcast(EVENT_REACTION, delta, room,
                                         skip_sid=session.sid)
        return {**delta, "changed": reacted.changed}

    async def _change(self, session: SocketSession, room: str, seq: int,
                      text: str | None, client_id: str | None,
                      by_backend: bool = False) -> dict[str, Any]:
        # Like a send: a resend is answered before any other check.
        user = session.identity
        if client_id is not None:
            sent = await self._store.find_sent(room, user.user_id, client_id)
            if sent is not None:
                return {"message": sent, "duplicate": True}
        await self._admit(session, room)
        change = Change(id=uuid.uuid4().hex, room=room, user_id=user.user_id,
                        user_name=user.name, target=seq,
                        ts=int(time.time() * 1000), text=text,
                        client_id=client_id, by_backend=by_backend)
        try:
            appended = await self._store.amend(change)
        except Exception:
            await self._refund(user.user_id)
            raise
        if appended.duplicate:
            await self._refund(user.user_id)
        else:
            await self._fanout.broadcast(EVENT_MESSAGE, appended.message,
                                         room, skip_sid=session.sid)
        return {"message": appended.message, "duplicate": appended.duplicate}

    async def _admit(self, session: SocketSession, room: str) -> None:
        if room not in session.rooms:
            raise NotInRoom()
        retry_after = await self._limiter.acquire(session.user_id)
        if retry_after > 0:
            raise RateLimited(retry_after)

    async def _refund(self, user_id: str) -> None:
        try:
            await self._limiter.refund(user_id)
        except Exception:
            log.exception("rate limit refund failed")
