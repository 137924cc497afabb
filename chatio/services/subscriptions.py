"""Room subscriptions of the /presence and /typing namespaces."""
from __future__ import annotations

from ..constants import MAX_ROOMS_PER_SOCKET
from ..errors import Forbidden, TooManyRooms
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
