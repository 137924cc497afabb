"""A background loop that runs expiry jobs (presence grace, typing TTL)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


async def sweep_forever(jobs: Sequence[Job], interval: float) -> None:
    """Run every job each ``interval`` seconds; a failing job is logged and
    the loop carries on."""
    while True:
        await asyncio.sleep(interval)
        for job in jobs:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sweep job failed")
            # A client library may turn a cancellation that arrived inside
            # a job into an error of its own; the loop still stops.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError


def sweep_interval(*periods: float) -> float:
    """A tick fine enough for the shortest period, between 50 ms and 500 ms."""
    shortest = min((p for p in periods if p > 0), default=1.0)
    return max(0.05, min(0.5, shortest / 5))
