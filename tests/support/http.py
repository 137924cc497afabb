"""Plain HTTP requests to a node, for the HTTP API tests."""
from __future__ import annotations

from typing import Any

import aiohttp

API_KEY = "test-api-key-0123456789"


async def request(method: str, url: str, *, json: Any = None,
                  data: Any = None, headers: dict | None = None
                  ) -> tuple[int, Any]:
    """One HTTP request; returns the status and the JSON body (or text)."""
    async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.request(method, url, json=json, data=data,
                                   headers=headers) as resp:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                body = await resp.text()
            return resp.status, body


def bearer(key: str = API_KEY) -> dict[str, str]:
    """The ``Authorization`` header for ``key``."""
    return {"Authorization": f"Bearer {key}"}
