"""Recovery records of a single node, saved across a graceful restart."""
from __future__ import annotations

import time

# Seconds between two sweeps of expired records, at least.
PRUNE_INTERVAL = 1.0


class MemoryRecoveryStore:
    """Records in this process; ``export``/``restore`` carry them over a
    restart (``chatio.recovery.snapshot``)."""

    def __init__(self) -> None:
        # key -> (wall-clock expiry, record)
        self._records: dict[str, tuple[float, str]] = {}
        self._pruned = 0.0

    def __len__(self) -> int:
        return len(self._records)

    async def put(self, key: str, record: str, ttl: float) -> None:
        now = time.time()
        # Expired records go at most once a second: a shutdown puts one
        # per socket, thousands in a row.
        if now - self._pruned >= PRUNE_INTERVAL:
            self._prune()
        self._records[key] = (now + ttl, record)

    async def take(self, key: str) -> str | None:
        entry = self._records.pop(key, None)
        if entry is None or entry[0] <= time.time():
            return None
        return entry[1]

    async def close(self) -> None:
        pass

    def export(self) -> dict[str, tuple[float, str]]:
        """The records still valid, with their expiry times."""
        self._prune()
        return dict(self._records)

    def restore(self, records: dict[str, tuple[float, str]]) -> int:
        """Adopt exported records; returns how many are still valid."""
        now = time.time()
        for key, (expires, record) in records.items():
            if expires > now:
                self._records[key] = (expires, record)
        return len(self._records)

    def _prune(self) -> None:
        now = self._pruned = time.time()
        for key in [k for k, (expires, _) in self._records.items()
                    if expires <= now]:
            del self._records[key]
