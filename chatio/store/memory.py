"""History kept in process memory: for tests and throwaway nodes."""
from __future__ import annotations

import time
from collections import deque
from typing import Any

from ..constants import IDEMPOTENCY_WINDOW_SECONDS
from .base import Appended, Draft, Page

SendKey = tuple[str, str, str]


class MemoryHistoryStore:
    """Implements ``HistoryStore`` with a bounded deque per room."""

    def __init__(self, retention: int,
                 idempotency_window: float = IDEMPOTENCY_WINDOW_SECONDS) -> None:
        self._retention = retention
        self._window = idempotency_window
        self._rooms: dict[str, deque[dict[str, Any]]] = {}
        self._last_seq: dict[str, int] = {}
        self._sends: dict[SendKey, tuple[float, dict[str, Any]]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def append(self, draft: Draft) -> Appended:
        now = time.monotonic()
        key = None
        if draft.client_id is not None:
            key = (draft.room, draft.user_id, draft.client_id)
            seen = self._sends.get(key)
            if seen is not None and now - seen[0] < self._window:
                return Appended(seen[1], duplicate=True)
        seq = self._last_seq.get(draft.room, 0) + 1
        self._last_seq[draft.room] = seq
        message = draft.stored_as(seq)
        room = self._rooms.setdefault(draft.room, deque(maxlen=self._retention))
        room.append(message)
        if key is not None:
            self._sends.pop(key, None)  # keep the dict in time order
            self._sends[key] = (now, message)
            self._forget_old_sends(now)
        return Appended(message, duplicate=False)

    async def find_sent(self, room: str, user_id: str,
                        client_id: str) -> dict[str, Any] | None:
        seen = self._sends.get((room, user_id, client_id))
        if seen is None or time.monotonic() - seen[0] >= self._window:
            return None
        return seen[1]

    async def latest(self, room: str, limit: int) -> Page:
        kept = self._rooms.get(room, ())
        start = max(0, len(kept) - limit)
        return Page(list(kept)[start:], more=start > 0)

    async def after(self, room: str, seq: int, limit: int) -> Page:
        kept = list(self._rooms.get(room, ()))
        newer = [m for m in kept if m["seq"] > seq]
        gap = bool(kept) and kept[0]["seq"] > seq + 1
        return Page(newer[:limit], more=len(newer) > limit, gap=gap)

    async def before(self, room: str, seq: int, limit: int) -> Page:
        older = [m for m in self._rooms.get(room, ()) if m["seq"] < seq]
        start = max(0, len(older) - limit)
        return Page(older[start:], more=start > 0)

    async def last_seq(self, room: str) -> int:
        return self._last_seq.get(room, 0)

    def _forget_old_sends(self, now: float) -> None:
        # Sends are inserted in time order, so the oldest come first.
        while self._sends:
            key, (at, _) = next(iter(self._sends.items()))
            if now - at < self._window:
                break
            del self._sends[key]
