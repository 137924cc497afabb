"""Room subscriptions of the /presence and /typing namespaces."""
from __future__ import annotations

import contextlib

from ..constants import MAX_ROOMS_PER_SOCKET
from ..errors import Forbidden, TooManyRooms, Unavailable
from ..fanout import Fanout
from .session import SocketSession


class Subscriptions:
    """Subscribing a socket to a room's events needs only that its token
    allows the room, not /chat membership."""

    def __init__(self, fanout: Fanout) -> None:
        self._fanout = fanout

    async def subscribe(self, session: SocketSession, room: str) -> None:
        if not session.identity.may_use(room):
            raise Forbidden()
        if room not in session.rooms and len(session.rooms) >= MAX_ROOMS_PER_SOCKET:
            raise TooManyRooms()
        session.rooms.add(room)
        # Presence and typing are best effort: while a cluster node cannot
        # confirm it hears the room, the socket stays subscribed and hears
        # it once Redis answers.
        with contextlib.suppress(Unavailable):
            await self._fanout.enter(session.sid, room)

    async def unsubscribe(self, session: SocketSession, room: str) -> None:
        session.rooms.discard(room)
        await self._fanout.leave(session.sid, room)

    async def resubscribe(self, session: SocketSession,
                          rooms: list[str]) -> list[str]:
        """Subscribe a recovered socket to the ``rooms`` it had that its
        token still allows; returns those."""
        restored = []
        for room in rooms:
            try:
                await self.subscribe(session, room)
            except (Forbidden, TooManyRooms):
                continue
            restored.append(room)
        return restored
