"""Cluster-wide typing state that falls back to this node's own knowledge
while the shared store is unreachable."""
from __future__ import annotations

import logging

from ..errors import Unavailable
from .base import Typist, TypingState
from .memory import MemoryTypingState

log = logging.getLogger(__name__)


class FailoverTypingState:
    """Implements ``TypingState``: ``shared`` decides while it answers;
    ``local`` mirrors this node's typists and decides while it does not, so
    subscribers on this node still see typing start and stop."""

    def __init__(self, shared: TypingState,
                 local: MemoryTypingState | None = None) -> None:
        self._shared = shared
        self._local = local or MemoryTypingState()
        self._down = False

    @property
    def degraded(self) -> bool:
        """Whether the last call to the shared store failed."""
        return self._down

    async def start(self, typist: Typist, ttl: float) -> bool:
        started = await self._local.start(typist, ttl)
        try:
            return self._up(await self._shared.start(typist, ttl))
        except Unavailable as exc:
            self._fail(exc)
            return started

    async def stop(self, room: str, user_id: str) -> Typist | None:
        stopped = await self._local.stop(room, user_id)
        try:
            return self._up(await self._shared.stop(room, user_id))
        except Unavailable as exc:
            self._fail(exc)
            return stopped

    async def expire(self) -> list[Typist]:
        expired = await self._local.expire()
        try:
            return self._up(await self._shared.expire())
        except Unavailable as exc:
            self._fail(exc)
            return expired

    def _up(self, result):  # type: ignore[no-untyped-def]
        if self._down:
            log.info("typing state is cluster-wide again")
            self._down = False
        return result

    def _fail(self, exc: Unavailable) -> None:
        if not self._down:
            log.warning("typing state falls back to this node: %s",
                        exc.message)
            self._down = True
