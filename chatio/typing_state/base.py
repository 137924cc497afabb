"""The typing state interface: who is typing where, per user per room.

Only transitions matter to subscribers, so every method says whether it
changed the state.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class Typist:
    room: str
    user_id: str
    name: str


class TypingState(Protocol):
    async def start(self, typist: Typist, ttl: float) -> bool:
        """Mark typing for ``ttl`` seconds; True when it was not typing."""

    async def stop(self, room: str, user_id: str) -> Typist | None:
        """Clear typing; the typist when it was typing."""

    async def expire(self) -> list[Typist]:
        """Clear and return typists whose time ran out."""

    async def typists(self, room: str) -> list[Typist]:
        """Who is typing in ``room`` now."""
