"""Per-key serial execution: one socket's events run one at a time, in order."""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

Job = Callable[[], Awaitable[None]]

log = logging.getLogger(__name__)


class SerialLanes:
    """Runs the jobs submitted under one key in submission order, while
    different keys run concurrently. A lane's worker exists only while it
    has work, so idle sockets cost nothing."""

    def __init__(self) -> None:
        self._queues: dict[Hashable, deque[Job]] = {}
        self._workers: dict[Hashable, asyncio.Task[None]] = {}

    def submit(self, key: Hashable, job: Job) -> None:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._workers[key] = asyncio.create_task(self._drain(key, queue))
        queue.append(job)

    async def wait_idle(self, key: Hashable) -> None:
        """Return once every job submitted under ``key`` so far has run."""
        worker = self._workers.get(key)
        if worker is not None:
            await asyncio.shield(worker)

    async def wait_all(self) -> None:
        """Return once every lane is idle."""
        while self._workers:
            await asyncio.gather(*map(asyncio.shield, list(self._workers.values())),
                                 return_exceptions=True)

    def busy(self, key: Hashable) -> bool:
        """Whether a job of ``key`` is running or waiting."""
        return key in self._workers

    def idle(self, key: Hashable) -> asyncio.Future[None] | None:
        """A future done once ``key``'s lane is idle (None if it is)."""
        worker = self._workers.get(key)
        return asyncio.shield(worker) if worker is not None else None

    def backlog(self, key: Hashable) -> int:
        """Jobs waiting under ``key`` (not counting the one running)."""
        queue = self._queues.get(key)
        return len(queue) if queue is not None else 0

    def __len__(self) -> int:
        return len(self._workers)

    async def _drain(self, key: Hashable, queue: deque[Job]) -> None:
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("event job failed")
        finally:
            del self._queues[key]
            del self._workers[key]
