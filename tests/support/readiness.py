"""Reading a node's ``GET /readyz``."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

POLL_INTERVAL = 0.1


async def readiness(url: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the node's /readyz."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/readyz") as response:
            return response.status, await response.json()


async def wait_ready(url: str, ready: bool, timeout: float) -> dict[str, Any]:
    """Poll /readyz until it says ``ready``; its last body. Fails with the
    last answer after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = await readiness(url)
        if (status == 200) == ready:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz still {status} {body} "
                                 f"after {timeout} s")
        await asyncio.sleep(POLL_INTERVAL)
