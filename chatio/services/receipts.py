"""Read receipts for room members: coalesced, volatile broadcasts.

A burst of reads in a room costs one ``receipts`` event per interval: the
first read starts the interval, later ones only update the pending
positions, and the event carries each reader's furthest position.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from ..constants import EVENT_RECEIPTS, MAX_READERS
from ..fanout import Fanout

log = logging.getLogger(__name__)


class ReceiptCoalescer:
    """Collects read positions per room and broadcasts them every
    ``interval`` seconds at most."""

    def __init__(self, fanout: Fanout, interval: float) -> None:
        self._fanout = fanout
        self._interval = interval
        self._pending: dict[str, dict[str, tuple[str, int]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, room: str, user_id: str, name: str, seq: int) -> None:
        """Note that ``user_id`` has read ``room`` up to ``seq``."""
        readers = self._pending.get(room)
        if readers is None:
            readers = self._pending[room] = {}
            task = asyncio.create_task(self._later(room))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if seq > readers.get(user_id, ("", 0))[1]:
            readers[user_id] = (name, seq)

    async def close(self) -> None:
        """Drop what is pending: receipts are volatile anyway."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending.clear()

    async def _later(self, room: str) -> None:
        await asyncio.sleep(self._interval)
        readers = self._pending.pop(room, {})
        furthest = sorted(readers.items(), key=lambda item: -item[1][1])
        reads = [{"user": {"id": user_id, "name": name}, "seq": seq}
                 for user_id, (name, seq) in furthest[:MAX_READERS]]
        try:
            await self._fanout.broadcast_volatile(
                EVENT_RECEIPTS, {"room": room, "reads": reads}, room)
        except Exception:
            log.exception("receipts broadcast failed")
