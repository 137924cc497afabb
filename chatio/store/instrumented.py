"""A ``HistoryStore`` that records its calls' latency and the messages stored.

It wraps any other store and adds no round-trip: one clock read before and
after each call, and a histogram observation.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..metrics import STORE_APPEND, STORE_READ, Metrics
from .base import (Appended, Change, Draft, HistoryStore, Page, Reacted,
                   Reader, ReadState)

T = TypeVar("T")


class InstrumentedHistoryStore:
    """Implements ``HistoryStore`` by delegating to ``inner``."""

    def __init__(self, inner: HistoryStore, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def _timed(self, operation: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await call
        finally:
            self._metrics.store_call(operation, time.perf_counter() - started)

    async def open(self) -> None:
        await self._inner.open()

    async def close(self) -> None:
        await self._inner.close()

    async def ping(self) -> None:
        await self._inner.ping()

    async def append(self, draft: Draft) -> Appended:
        appended = await self._timed(STORE_APPEND, self._inner.append(draft))
        if not appended.duplicate:
            self._metrics.message_stored()
        return appended

    async def find_sent(self, room: str, user_id: str,
                        client_id: str) -> dict[str, Any] | None:
        return await self._timed(
            STORE_READ, self._inner.find_sent(room, user_id, client_id))

    async def amend(self, change: Change) -> Appended:
        return await self._timed(STORE_APPEND, self._inner.amend(change))

    async def react(self, room: str, seq: int, user_id: str, emoji: str,
                    on: bool) -> Reacted:
        return await self._timed(
            STORE_APPEND, self._inner.react(room, seq, user_id, emoji, on))

    async def mark_read(self, room: str, user_id: str, user_name: str,
                        seq: int) -> tuple[int, bool]:
        return await self._timed(
            STORE_APPEND,
            self._inner.mark_read(room, user_id, user_name, seq))

    async def read_state(self, room: str, user_id: str) -> ReadState:
        return await self._timed(STORE_READ,
                                 self._inner.read_state(room, user_id))

    async def readers(self, room: str, seq: int, limit: int) -> list[Reader]:
        return await self._timed(STORE_READ,
                                 self._inner.readers(room, seq, limit))

    async def latest(self, room: str, limit: int,
                     viewer: str | None = None) -> Page:
        return await self._timed(STORE_READ,
                                 self._inner.latest(room, limit, viewer))

    async def after(self, room: str, seq: int, limit: int,
                    viewer: str | None = None) -> Page:
        return await self._timed(STORE_READ,
                                 self._inner.after(room, seq, limit, viewer))

    async def before(self, room: str, seq: int, limit: int,
                     viewer: str | None = None) -> Page:
        return await self._timed(STORE_READ,
                                 self._inner.before(room, seq, limit, viewer))

    async def last_seq(self, room: str) -> int:
        return await self._timed(STORE_READ, self._inner.last_seq(room))

    async def epoch(self, room: str) -> str:
        return await self._timed(STORE_READ, self._inner.epoch(room))
