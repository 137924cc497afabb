"""Who is typing: transition-only, expiring, volatile broadcasts."""
from __future__ import annotations

from typing import Any

from ..constants import EVENT_TYPING
from ..errors import NotInRoom, RateLimited
from ..fanout import Fanout
from ..ratelimit import RateLimiter
from ..typing_state import Typist, TypingState
from .presence import PresenceService
from .room_events import RoomListener
from .session import SocketSession
from .subscriptions import Subscriptions


class TypingService(RoomListener):
    """Broadcasts a user's typing state changes to a room's subscribers."""

    def __init__(self, state: TypingState, fanout: Fanout,
                 presence: PresenceService, limiter: RateLimiter,
                 ttl: float) -> None:
        self._state = state
        self._fanout = fanout
        self._presence = presence
        self._limiter = limiter
        self._ttl = ttl
        self._subscriptions = Subscriptions(fanout)

    async def subscribe(self, session: SocketSession, room: str) -> dict[str, Any]:
        await self._subscriptions.subscribe(session, room)
        return {"room": room}

    async def resubscribe(self, session: SocketSession,
                          rooms: list[str]) -> list[dict[str, Any]]:
        """Subscribe a recovered socket again; one ``typists`` payload per
        room says who is typing now."""
        restored = await self._subscriptions.resubscribe(session, rooms)
        payloads = []
        for room in restored:
            typists = await self._state.typists(room)
            payloads.append({"room": room, "typists": [
                {"id": t.user_id, "name": t.name} for t in typists]})
        return payloads

    async def unsubscribe(self, session: SocketSession, room: str) -> dict[str, Any]:
        await self._subscriptions.unsubscribe(session, room)
        return {}

    async def typing(self, session: SocketSession, room: str,
                     typing: bool) -> dict[str, Any]:
        """Record ``typing``; only a change of state is broadcast."""
        if not await self._presence.is_connected(room, session.user_id):
            raise NotInRoom()
        retry_after = await self._limiter.acquire(session.user_id)
        if retry_after > 0:
            raise RateLimited(retry_after)
        if typing:
            typist = Typist(room, session.user_id, session.identity.name)
            if await self._state.start(typist, self._ttl):
                await self._announce(typist, True, skip_sid=session.sid)
        else:
            stopped = await self._state.stop(room, session.user_id)
            if stopped is not None:
                await self._announce(stopped, False, skip_sid=session.sid)
        return {}

    async def message_sent(self, session: SocketSession, room: str) -> None:
        await self._clear(room, session.user_id)

    async def member_left(self, session: SocketSession, room: str,
                          dropped: bool) -> None:
        if not await self._presence.is_connected(room, session.user_id):
            await self._clear(room, session.user_id)

    async def expire(self) -> None:
        """Announce ``typing: false`` for typists who went quiet."""
        for typist in await self._state.expire():
            await self._announce(typist, False)

    async def _clear(self, room: str, user_id: str) -> None:
        stopped = await self._state.stop(room, user_id)
        if stopped is not None:
            await self._announce(stopped, False)

    async def _announce(self, typist: Typist, typing: bool,
                        skip_sid: str | None = None) -> None:
        await self._fanout.broadcast_volatile(EVENT_TYPING, {
            "room": typist.room,
            "user": {"id": typist.user_id, "name": typist.name},
            "typing": typing,
        }, typist.room, skip_sid=skip_sid)
