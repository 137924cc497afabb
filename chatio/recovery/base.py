"""The recovery store interface: single-use records that expire."""
from __future__ import annotations

from typing import Protocol


class RecoveryStore(Protocol):
    """Keeps each dropped session's record until it is taken or expires."""

    async def put(self, key: str, record: str, ttl: float) -> None:
        """Keep ``record`` under ``key`` for ``ttl`` seconds (replacing)."""

    async def take(self, key: str) -> str | None:
        """Remove and return the record under ``key``: a record is taken at
        most once, even by concurrent callers on different nodes."""

    async def close(self) -> None:
        """Release what the store holds."""
