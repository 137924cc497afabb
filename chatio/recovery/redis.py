"""Recovery records in Redis: any node of the cluster can take them."""
from __future__ import annotations

from typing import Any


class RedisRecoveryStore:
    """One key per record, ``SET PX`` to keep and ``GETDEL`` to take, so a
    record is taken once whichever nodes ask at the same time."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}:recovery:"

    async def put(self, key: str, record: str, ttl: float) -> None:
        await self._client.set(self._prefix + key, record,
                               px=max(1, int(ttl * 1000)))

    async def take(self, key: str) -> str | None:
        value = await self._client.getdel(self._prefix + key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def close(self) -> None:
        pass
