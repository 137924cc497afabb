"""Read positions: moving them, telling the reader's devices, and who read."""
from __future__ import annotations

import contextlib
from typing import Any

from ..constants import EVENT_READ, MAX_READERS
from ..errors import NotInRoom, RateLimited, Unavailable
from ..fanout import Fanout
from ..ratelimit import RateLimiter
from ..store import HistoryStore
from .receipts import ReceiptCoalescer
from .session import SocketSession
from .user_channel import user_channel


class ReadService:
    """``read`` and ``readers`` for /chat sockets."""

    def __init__(self, store: HistoryStore, limiter: RateLimiter,
                 fanout: Fanout, receipts: ReceiptCoalescer) -> None:
        self._store = store
        self._limiter = limiter
        self._fanout = fanout
        self._receipts = receipts

    async def connected(self, session: SocketSession) -> None:
        """Let the socket hear of its user's reads on other devices (best
        effort: while a cluster node cannot confirm it hears the user's
        channel, the socket stays in it and hears it once Redis answers)."""
        with contextlib.suppress(Unavailable):
            await self._fanout.enter(session.sid,
                                     user_channel(session.user_id))

    async def read(self, session: SocketSession, room: str,
                   seq: int) -> dict[str, Any]:
        """Move the read position forward; a move reaches the user's other
        sockets at once and the room's members with the next receipts."""
        if room not in session.rooms:
            raise NotInRoom()
        retry_after = await self._limiter.acquire(session.user_id)
        if retry_after > 0:
            raise RateLimited(retry_after)
        user = session.identity
        position, moved = await self._store.mark_read(room, user.user_id,
                                                      user.name, seq)
        state = await self._store.read_state(room, user.user_id)
        update = {"room": room, "seq": state.seq, "unread": state.unread}
        if moved:
            await self._fanout.broadcast(EVENT_READ, update,
                                         user_channel(user.user_id),
                                         skip_sid=session.sid)
            self._receipts.add(room, user.user_id, user.name, position)
        return update

    async def readers(self, session: SocketSession, room: str,
                      seq: int) -> dict[str, Any]:
        """Who has read ``room`` up to ``seq`` at least, furthest first."""
        if room not in session.rooms:
            raise NotInRoom()
        found = await self._store.readers(room, seq, MAX_READERS + 1)
        return {"room": room, "seq": seq, "more": len(found) > MAX_READERS,
                "readers": [{"user": {"id": r.user_id, "name": r.name},
                             "seq": r.seq} for r in found[:MAX_READERS]]}
