"""Who is in which room: per-user presence with a reconnect grace period."""
from __future__ import annotations

from typing import Any

from ..constants import EVENT_PRESENCE
from ..fanout import Fanout
from ..presence import Member, PresenceStore
from .room_events import RoomListener
from .session import SocketSession
from .subscriptions import Subscriptions

JOINED = "joined"
LEFT = "left"


class PresenceService(RoomListener):
    """Turns /chat joins and leaves into ``presence`` events for subscribers."""

    def __init__(self, store: PresenceStore, fanout: Fanout, node_id: str,
                 grace: float) -> None:
        self._store = store
        self._fanout = fanout
        self._node_id = node_id
        self._grace = grace
        self._subscriptions = Subscriptions(fanout)

    async def subscribe(self, session: SocketSession, room: str) -> dict[str, Any]:
        await self._subscriptions.subscribe(session, room)
        members = await self._store.members(room)
        return {"room": room, "members": [m.public() for m in members]}

    async def resubscribe(self, session: SocketSession,
                          rooms: list[str]) -> list[dict[str, Any]]:
        """Subscribe a recovered socket again; one ``members`` payload per
        room says who is there now."""
        restored = await self._subscriptions.resubscribe(session, rooms)
        return [await self.subscribe(session, room) for room in restored]

    async def unsubscribe(self, session: SocketSession, room: str) -> dict[str, Any]:
        await self._subscriptions.unsubscribe(session, room)
        return {}

    async def member_joined(self, session: SocketSession, room: str) -> None:
        member = Member(session.user_id, session.identity.name)
        if await self._store.add(room, member, session.sid, self._node_id):
            await self._announce(room, member, JOINED)

    async def member_left(self, session: SocketSession, room: str,
                          dropped: bool) -> None:
        grace = self._grace if dropped else 0.0
        gone = await self._store.remove(room, session.user_id, session.sid, grace)
        if gone is not None:
            await self._announce(room, gone, LEFT)

    async def expire(self) -> None:
        """Announce users whose grace period ended without a return."""
        await self._store.heartbeat(self._node_id)
        for departure in await self._store.expire():
            await self._announce(departure.room, departure.member, LEFT)

    async def occupants(self, room: str) -> list[dict[str, Any]]:
        """Who is present in ``room``, each with their live device count."""
        members = await self._store.members(room)
        devices = await self._store.devices(room)
        return [{**m.public(), "devices": devices.get(m.user_id, 0)}
                for m in sorted(members, key=lambda m: m.user_id)]

    async def is_connected(self, room: str, user_id: str) -> bool:
        return await self._store.is_connected(room, user_id)

    async def _announce(self, room: str, member: Member, status: str) -> None:
        await self._fanout.broadcast(EVENT_PRESENCE, {
            "room": room, "user": member.public(), "status": status}, room)
