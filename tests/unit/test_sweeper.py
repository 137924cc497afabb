"""The sweeper loop ends when cancelled, even if a job swallowed the
cancellation, as a Redis client can when a cancel meets its own timeout."""
from __future__ import annotations

import asyncio

from chatio.sweeper import sweep_forever

TIMEOUT = 5.0


async def test_a_job_that_swallows_the_cancel_does_not_keep_the_loop_alive(
        ) -> None:
    running = asyncio.Event()

    async def swallowing_job() -> None:
        running.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise TimeoutError("the client's own timeout") from None

    async def job_that_copes() -> None:
        try:
            await swallowing_job()
        except TimeoutError:
            pass  # the store falls back, as a failover store does

    task = asyncio.create_task(sweep_forever([job_that_copes], 0.001))
    await asyncio.wait_for(running.wait(), TIMEOUT)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=TIMEOUT)
    assert task in done and task.cancelled()
