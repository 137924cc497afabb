"""Connection state recovery: records of dropped sockets, and what a
recovering socket missed.

A pid is a bearer secret for one socket's session: 144 random bits, kept
only as a SHA-256 key, bound to the token's user, and its record is taken
at most once. Presenting another user's pid recovers nothing (and leaves the
record to its owner).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from ..constants import MAX_PAGE_LIMIT
from ..recovery import RecoveryStore, SessionRecord
from ..redis_client import REDIS_FAILURES
from ..errors import ChatioError
from ..store import HistoryStore

log = logging.getLogger(__name__)

# The most messages one recovering socket is replayed across its rooms;
# one that missed more starts a new session and catches up with ``since``.
MAX_REPLAY = 1000
# History pages read per room, at most, to find them.
MAX_PAGES = 20


class SessionRecovery:
    """Keeps dropped sockets' records for ``window`` seconds in ``store``
    and reads what they missed from ``history``."""

    def __init__(self, store: RecoveryStore, history: HistoryStore,
                 window: float) -> None:
        self._store = store
        self._history = history
        self.window = window

    @staticmethod
    def new_pid() -> str:
        return secrets.token_urlsafe(18)

    @staticmethod
    def key(pid: str) -> str:
        """What a pid is kept and looked up as."""
        return _key(pid)

    async def suspend(self, pid: str, record: SessionRecord) -> bool:
        """Keep ``record`` for the window; False when it could not be."""
        try:
            await self._store.put(_key(pid), record.encode(), self.window)
        except (*REDIS_FAILURES, ChatioError) as exc:
            log.warning("could not keep a recovery record", extra={"fields": {
                "sid": record.sid, "error": f"{type(exc).__name__}: {exc}"}})
            return False
        return True

    async def claim(self, pid: str, namespace: str,
                    user_id: str) -> SessionRecord | None:
        """Take the record of ``pid`` if it is ``user_id``'s socket of
        ``namespace``; None when there is none to take."""
        key = _key(pid)
        try:
            text = await self._store.take(key)
        except (*REDIS_FAILURES, ChatioError) as exc:
            log.warning("could not read a recovery record", extra={"fields": {
                "error": f"{type(exc).__name__}: {exc}"}})
            return None
        if text is None:
            return None
        try:
            record = SessionRecord.decode(text)
        except ValueError as exc:
            log.warning("dropping a broken recovery record",
                        extra={"fields": {"error": str(exc)}})
            return None
        if record.user_id != user_id or record.namespace != namespace:
            log.warning("a pid was presented by another user or namespace",
                        extra={"fields": {"namespace": namespace,
                                          "user": user_id}})
            # Its owner may still come back with it.
            await self.suspend(pid, record)
            return None
        return record

    async def missed(self, record: SessionRecord, stamp: int | None,
                     after: dict[str, int] | None = None
                     ) -> dict[str, list[dict[str, Any]]] | None:
        """Per room, the messages the client does not have, in seq order;
        ``stamp`` is the last delivery it saw (None: none of the record's),
        ``after`` skips what an earlier call already found. None when they
        cannot all be replayed (too many, trimmed, or the store failed)."""
        found: dict[str, list[dict[str, Any]]] = {}
        total = 0
        for room, trail in record.trails.items():
            have = trail.received(stamp)
            start = max(trail.base, (after or {}).get(room, 0))
            messages: list[dict[str, Any]] = []
            for _ in range(MAX_PAGES):
                try:
                    page = await self._history.after(room, start,
                                                     MAX_PAGE_LIMIT,
                                                     record.user_id)
                except ChatioError as exc:
                    log.warning("no recovery: history unavailable",
                                extra={"fields": {"room": room,
                                                  "error": exc.message}})
                    return None
                if page.gap or (trail.epoch and page.epoch != trail.epoch):
                    # Trimmed, or the room's history started over.
                    return None
                for message in page.messages:
                    if message["seq"] not in have:
                        messages.append(message)
                if not page.messages:
                    break
                start = page.messages[-1]["seq"]
                if not page.more:
                    break
            else:
                return None
            total += len(messages)
            if total > MAX_REPLAY:
                return None
            found[room] = messages
        return found


def _key(pid: str) -> str:
    return hashlib.sha256(pid.encode()).hexdigest()
