"""Cluster-wide typing state that falls back to this node's own knowledge
while the shared store is unreachable."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..errors import Unavailable
from .base import Typist, TypingState
from .memory import MemoryTypingState

log = logging.getLogger(__name__)

# While the shared store fails, try it again at most this often (seconds),
# so that an unreachable Redis does not delay every typing event.
PROBE_INTERVAL = 1.0

Key = tuple[str, str]


class FailoverTypingState:
    """Implements ``TypingState``: ``shared`` decides while it answers;
    ``local`` mirrors this node's typists and decides while it does not, so
    subscribers on this node still see typing start and stop.

    A typist announced from local knowledge is unknown to ``shared``. Its
    stop or expiry is therefore reported from ``local`` even after
    ``shared`` answers again, so nobody is left typing forever.
    """

    def __init__(self, shared: TypingState,
                 local: MemoryTypingState | None = None, *,
                 probe_interval: float = PROBE_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._shared = shared
        self._local = local or MemoryTypingState(clock)
        self._probe_interval = probe_interval
        self._clock = clock
        self._down = False
        self._next_probe = 0.0
        self._local_only: set[Key] = set()

    @property
    def degraded(self) -> bool:
        """Whether the last call to the shared store failed."""
        return self._down

    async def start(self, typist: Typist, ttl: float) -> bool:
        started = await self._local.start(typist, ttl)
        key = (typist.room, typist.user_id)
        if self._shared_due():
            try:
                result = await self._shared.start(typist, ttl)
            except Unavailable as exc:
                self._fail(exc)
            else:
                self._up()
                self._local_only.discard(key)
                return result
        self._local_only.add(key)
        return started

    async def stop(self, room: str, user_id: str) -> Typist | None:
        stopped = await self._local.stop(room, user_id)
        local_only = (room, user_id) in self._local_only
        self._local_only.discard((room, user_id))
        if self._shared_due():
            try:
                shared = await self._shared.stop(room, user_id)
            except Unavailable as exc:
                self._fail(exc)
            else:
                self._up()
                return shared or (stopped if local_only else None)
        return stopped

    async def expire(self) -> list[Typist]:
        expired = await self._local.expire()
        local_only = [t for t in expired
                      if (t.room, t.user_id) in self._local_only]
        self._local_only.difference_update(
            (t.room, t.user_id) for t in local_only)
        if self._shared_due():
            try:
                shared = await self._shared.expire()
            except Unavailable as exc:
                self._fail(exc)
            else:
                self._up()
                reported = {(t.room, t.user_id) for t in shared}
                return shared + [t for t in local_only
                                 if (t.room, t.user_id) not in reported]
        return expired

    async def typists(self, room: str) -> list[Typist]:
        if self._shared_due():
            try:
                shared = await self._shared.typists(room)
            except Unavailable as exc:
                self._fail(exc)
            else:
                self._up()
                return shared
        return await self._local.typists(room)

    def _shared_due(self) -> bool:
        return not self._down or self._clock() >= self._next_probe

    def _up(self) -> None:
        if self._down:
            log.info("typing state is cluster-wide again")
            self._down = False

    def _fail(self, exc: Unavailable) -> None:
        self._next_probe = self._clock() + self._probe_interval
        if not self._down:
            log.warning("typing state falls back to this node: %s",
                        exc.message)
            self._down = True
