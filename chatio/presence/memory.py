"""Presence kept in process memory: the single-node implementation."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from .base import Departure, Member


@dataclasses.dataclass(frozen=True)
class Connection:
    """One joined /chat socket, as a shared store registers it."""

    room: str
    member: Member
    conn_id: str
    node_id: str


@dataclasses.dataclass
class _Connection:
    node_id: str
    refreshed_at: float


@dataclasses.dataclass
class _UserPresence:
    member: Member
    connections: dict[str, _Connection] = dataclasses.field(default_factory=dict)
    grace_until: float | None = None


class MemoryPresenceStore:
    """Implements ``PresenceStore`` for one node."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rooms: dict[str, dict[str, _UserPresence]] = {}
        self._in_grace: set[tuple[str, str]] = set()

    async def add(self, room: str, member: Member, conn_id: str,
                  node_id: str) -> bool:
        users = self._rooms.setdefault(room, {})
        presence = users.get(member.user_id)
        first = presence is None
        if presence is None:
            presence = users[member.user_id] = _UserPresence(member)
        presence.member = member  # the most recently joined device names it
        presence.grace_until = None
        self._in_grace.discard((room, member.user_id))
        presence.connections[conn_id] = _Connection(node_id, self._clock())
        return first

    async def remove(self, room: str, user_id: str, conn_id: str,
                     grace: float) -> Member | None:
        users = self._rooms.get(room, {})
        presence = users.get(user_id)
        if presence is None or presence.connections.pop(conn_id, None) is None:
            return None
        if presence.connections:
            return None
        if grace > 0:
            presence.grace_until = self._clock() + grace
            self._in_grace.add((room, user_id))
            return None
        self._forget(room, user_id)
        return presence.member

    async def heartbeat(self, node_id: str) -> bool:
        # One process holds every entry, so they live and die with it.
        return False

    async def expire(self) -> list[Departure]:
        now = self._clock()
        departed = []
        for room, user_id in list(self._in_grace):
            presence = self._rooms[room][user_id]
            if presence.grace_until is not None and presence.grace_until <= now:
                departed.append(Departure(room, presence.member))
                self._forget(room, user_id)
        return departed

    async def members(self, room: str) -> list[Member]:
        return [p.member for p in self._rooms.get(room, {}).values()]

    async def is_connected(self, room: str, user_id: str) -> bool:
        presence = self._rooms.get(room, {}).get(user_id)
        return presence is not None and bool(presence.connections)

    async def devices(self, room: str) -> dict[str, int]:
        return {user_id: len(presence.connections)
                for user_id, presence in self._rooms.get(room, {}).items()}

    def connections(self) -> list[Connection]:
        """Every live connection this store holds."""
        return [Connection(room, presence.member, conn_id, conn.node_id)
                for room, users in self._rooms.items()
                for presence in users.values()
                for conn_id, conn in presence.connections.items()]

    def export_absent(self, grace: float) -> list[dict[str, Any]]:
        """Users with no live connection (in their grace period, or about to
        be: call after the node dropped its clients), with the grace they
        have left, for ``import_absent`` in the next process."""
        now = self._clock()
        entries = []
        for room, users in self._rooms.items():
            for presence in users.values():
                until = presence.grace_until
                remaining = grace if until is None else max(0.0, until - now)
                entries.append({"room": room, "id": presence.member.user_id,
                                "name": presence.member.name,
                                "grace": remaining})
        return entries

    def import_absent(self, entries: list[dict[str, Any]]) -> None:
        """Restore exported users as present and in their grace period."""
        now = self._clock()
        for entry in entries:
            member = Member(str(entry["id"]), str(entry["name"]))
            room, grace = str(entry["room"]), float(entry["grace"])
            users = self._rooms.setdefault(room, {})
            if member.user_id in users:
                continue
            users[member.user_id] = _UserPresence(member, grace_until=now + grace)
            self._in_grace.add((room, member.user_id))

    def _forget(self, room: str, user_id: str) -> None:
        self._in_grace.discard((room, user_id))
        users = self._rooms[room]
        del users[user_id]
        if not users:
            del self._rooms[room]
