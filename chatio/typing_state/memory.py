"""Typing state in process memory."""
from __future__ import annotations

import time
from collections.abc import Callable

from .base import Typist


class MemoryTypingState:
    """Implements ``TypingState`` for one node."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._typing: dict[tuple[str, str], tuple[Typist, float]] = {}

    async def start(self, typist: Typist, ttl: float) -> bool:
        key = (typist.room, typist.user_id)
        started = key not in self._typing
        self._typing[key] = (typist, self._clock() + ttl)
        return started

    async def stop(self, room: str, user_id: str) -> Typist | None:
        entry = self._typing.pop((room, user_id), None)
        return entry[0] if entry else None

    async def expire(self) -> list[Typist]:
        now = self._clock()
        expired = [key for key, (_, until) in self._typing.items() if until <= now]
        return [self._typing.pop(key)[0] for key in expired]

    async def typists(self, room: str) -> list[Typist]:
        now = self._clock()
        return [typist for (in_room, _), (typist, until) in self._typing.items()
                if in_room == room and until > now]
