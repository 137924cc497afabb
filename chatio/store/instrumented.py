"""A ``HistoryStore`` that records its calls' latency and the messages stored.

It wraps any other store and adds no round-trip: one clock read before and
after each call, and a histogram observation.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..metrics import STORE_APPEND, STORE_READ, Metrics
from .base import Appended, Draft, HistoryStore, Page

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

    async def latest(self, room: str, limit: int) -> Page:
        return await self._timed(STORE_READ, self._inner.latest(room, limit))

    async def after(self, room: str, seq: int, limit: int) -> Page:
        return await self._timed(STORE_READ,
                                 self._inner.after(room, seq, limit))

    async def before(self, room: str, seq: int, limit: int) -> Page:
        return await self._timed(STORE_READ,
                                 self._inner.before(room, seq, limit))

    async def last_seq(self, room: str) -> int:
        return await self._timed(STORE_READ, self._inner.last_seq(room))
