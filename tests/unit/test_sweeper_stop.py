"""The sweeper stops when cancelled, even when a job swallows the
cancellation (as a client library may, turning it into its own error)."""
from __future__ import annotations

import asyncio

from chatio.sweeper import sweep_forever


async def test_a_job_that_swallows_the_cancellation_does_not_keep_it_running():
    entered = asyncio.Event()

    async def stubborn() -> None:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise ConnectionError("connection closed")  # not a cancellation

    task = asyncio.ensure_future(sweep_forever([stubborn], 0.01))
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()
