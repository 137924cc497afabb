"""What the cluster holds, read through the server API: history and
presence of each room."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from .checker import MARKER_USER

PAGE = 200
RETRY_FOR = 60.0


class ServerApi:
    """``GET /api/rooms/{room}`` and ``/history`` against one node, and
    ``POST /api/publish``; retries while the answer is 503 or no answer."""

    def __init__(self, session: aiohttp.ClientSession, url: str, key: str) -> None:
        self.session = session
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"}

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                async with self.session.request(method, self.url + path,
                                                headers=self.headers,
                                                **kwargs) as response:
                    body = await response.json()
                    if response.status == 200:
                        return body
                    if response.status != 503:
                        raise RuntimeError(f"{method} {path}: {response.status} {body}")
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path}: no answer for {RETRY_FOR:g} s")
            # Retry interval while a node or Redis comes back.
            await asyncio.sleep(0.5)

    async def history(self, room: str) -> list[dict[str, Any]]:
        """Every stored entry of ``room``, oldest first, as the checker
        takes them."""
        entries: list[dict[str, Any]] = []
        after = 0
        while True:
            page = await self._call("GET", f"/api/rooms/{room}/history",
                                    params={"after": str(after), "limit": str(PAGE)})
            for message in page["messages"]:
                entries.append({"seq": message["seq"], "id": message["id"],
                                "user": message["user"]["id"],
                                "client_id": message.get("client_id"),
                                "text": message.get("text")})
            if not page["messages"] or not page["more"]:
                return entries
            after = page["messages"][-1]["seq"]

    async def members(self, room: str) -> dict[str, int]:
        """Who is present in ``room``: user id -> devices."""
        state = await self._call("GET", f"/api/rooms/{room}")
        return {member["id"]: member["devices"] for member in state["members"]}

    async def publish(self, room: str, text: str, client_id: str) -> dict[str, Any]:
        answer = await self._call("POST", "/api/publish", json={
            "room": room, "text": text, "client_id": client_id,
            "user": {"id": MARKER_USER}})
        return answer["message"]
