"""The presence store interface: who is in which room, per user.

A user is present in a room while at least one of their /chat connections
has joined it, and for a grace period after their last connection dropped.
Every method reports the transition it caused, so exactly one caller emits
each ``joined``/``left``. Entries name their owning node and refresh time,
so a shared implementation can expire the entries of a node that died.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class Member:
    """A present user as subscribers see them."""

    user_id: str
    name: str

    def public(self) -> dict[str, str]:
        return {"id": self.user_id, "name": self.name}


@dataclasses.dataclass(frozen=True)
class Departure:
    """A user whose presence in ``room`` ended."""

    room: str
    member: Member


class PresenceStore(Protocol):
    async def add(self, room: str, member: Member, conn_id: str,
                  node_id: str) -> bool:
        """Record a joined connection; True when the user was not present
        (the first device: emit ``joined``). Rejoining within the grace
        period is not a transition."""

    async def remove(self, room: str, user_id: str, conn_id: str,
                     grace: float) -> Member | None:
        """Forget a connection; the member when that ended the user's
        presence now (emit ``left``). With ``grace`` > 0 a user's last
        connection leaves them present until ``expire`` runs after the grace
        period."""

    async def heartbeat(self, node_id: str) -> bool:
        """Record that ``node_id`` is alive. A shared implementation treats
        the entries of a node whose heartbeat stopped as gone. True when the
        store's entries for this node may not match its connections (a
        shared store that lost them, or that has not been given them since
        this process started): the caller re-registers them."""

    async def expire(self) -> list[Departure]:
        """End the presence of users whose grace period has passed."""

    async def members(self, room: str) -> list[Member]:
        """Users present in ``room`` (those in their grace period too)."""

    async def is_connected(self, room: str, user_id: str) -> bool:
        """Whether the user has a live /chat connection in ``room``."""

    async def devices(self, room: str) -> dict[str, int]:
        """For each user present in ``room``, how many live /chat
        connections they have there (0 during their grace period)."""
