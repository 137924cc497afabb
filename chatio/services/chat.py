"""Rooms, messages and history: the /chat use cases."""
from __future__ import annotations

import logging
import sys
import time
import os
import uuid
from collections.abc import Sequence
from typing import Any

from ..constants import EVENT_MESSAGE, MAX_ROOMS_PER_SOCKET
from ..errors import Forbidden, NotInRoom, RateLimited, TooManyRooms
from ..fanout import Fanout
from ..ratelimit import RateLimiter
from ..store import Draft, HistoryStore, Page
from ..tokens import Identity
from .room_events import RoomListener
from .session import SocketSession

log = logging.getLogger(__name__)


class ChatService:
    """Joins, sends and reads history for authenticated sockets."""

    def __init__(self, store: HistoryStore, limiter: RateLimiter,
                 fanout: Fanout, listeners: Sequence[RoomListener] = ()) -> None:
        self._store = store
        self._limiter = limiter
        self._fanout = fanout
        self._listeners = tuple(listeners)

    async def join(self, session: SocketSession, room: str, limit: int,
                   since: int | None = None,
                   epoch: str | None = None) -> dict[str, Any]:
        """Enter ``room`` and read the history the client is missing: after
        ``since`` of ``epoch``, or, when that position is not in the room's
        history (another epoch, or past its last seq), the newest page with
        ``gap``."""
        if not session.identity.may_use(room):
            raise Forbidden()
        is_new = room not in session.rooms
        if is_new and len(session.rooms) >= MAX_ROOMS_PER_SOCKET:
            raise TooManyRooms()
        # Enter before reading, so no message can fall between the history
        # page and live delivery; the client de-duplicates by seq.
        try:
            await self._fanout.enter(session.sid, room)
            viewer = session.user_id
            if since is None:
                page, gap = await self._store.latest(room, limit, viewer), False
            else:
                page, gap = await self._since(room, since, epoch, limit,
                                              viewer)
            read = await self._store.read_state(room, viewer)
        except Exception:
            if is_new:
                await self._fanout.leave(session.sid, room)
            raise
        session.rooms.add(room)
        session.positions[room] = (page.last_seq, (), sys.intern(page.epoch))
        if is_new:
            await self._notify("member_joined", session, room)
        ack: dict[str, Any] = {"room": room, "history": page.messages,
                               "more": page.more, "last_seq": page.last_seq,
                               "epoch": page.epoch, "read_seq": read.seq,
                               "unread": read.unread}
        if gap:
            ack["gap"] = True
        return ack

    async def _since(self, room: str, since: int, epoch: str | None,
                     limit: int, viewer: str) -> tuple[Page, bool]:
        """The page after ``since`` and whether it has a gap; the newest
        page, with a gap, when ``since`` is from another epoch or beyond the
        room's last seq (its history started over)."""
        page = await self._store.after(room, since, limit, viewer)
        if (epoch is not None and epoch != page.epoch) \
                or since > page.last_seq:
            return await self._store.latest(room, limit, viewer), True
        return page, page.gap

    async def leave(self, session: SocketSession, room: str) -> dict[str, Any]:
        """Stop receiving ``room``; leaving a room never joined is harmless."""
        if room in session.rooms:
            session.rooms.discard(room)
            session.positions.pop(room, None)
            await self._fanout.leave(session.sid, room)
            await self._notify("member_left", session, room, False)
        return {}

    async def rejoin(self, session: SocketSession, room: str) -> bool:
        """Put a recovered socket back in ``room`` without reading history
        (recovery replays what it missed); False when its token no longer
        allows the room."""
        if not session.identity.may_use(room) or \
                len(session.rooms) >= MAX_ROOMS_PER_SOCKET:
            return False
        await self._fanout.enter(session.sid, room)
        session.rooms.add(room)
        await self._notify("member_joined", session, room)
        return True

    async def disconnected(self, session: SocketSession) -> None:
        """The socket is gone: it left every room it had joined."""
        for room in sorted(session.rooms):
            await self._notify("member_left", session, room, True)
        session.rooms.clear()

    async def send(self, session: SocketSession, room: str, text: str,
                   client_id: str | None = None) -> dict[str, Any]:
        """Store a message, then broadcast it to the room but the sender.

        A resend of a stored ``client_id`` is answered whatever the room
        and rate checks would say, and costs no token: when a check refuses,
        the stored message is looked up; otherwise the store's atomic
        append finds it, and the token is given back. Every token kept pays
        for one stored message, and an ordinary send makes no extra lookup.
        """
        user = session.identity
        refusal: Exception | None = None
        if room not in session.rooms:
            refusal = NotInRoom()
        else:
            retry_after = await self._limiter.acquire(user.user_id)
            if retry_after > 0:
                refusal = RateLimited(retry_after)
        if refusal is not None:
            if client_id is not None:
                resent = await self._resent(room, user.user_id, client_id)
                if resent is not None:
                    return resent
            raise refusal
        # 128 random bits, as a UUID has, without building one per message.
        draft = Draft(id=os.urandom(16).hex(), room=room, user_id=user.user_id,
                      user_name=user.name, text=text,
                      ts=int(time.time() * 1000), client_id=client_id)
        appended = await self._store.append(draft)
        if appended.duplicate:
            await self._refund(user.user_id)
        else:
            await self._fanout.broadcast(EVENT_MESSAGE, appended.message, room,
                                         skip_sid=session.sid)
            await self._notify("message_sent", session, room)
        return {"message": appended.message, "duplicate": appended.duplicate}

    async def publish(self, identity: Identity, room: str, text: str,
                      client_id: str | None = None) -> dict[str, Any]:
        """``send`` on behalf of a backend: as ``identity``, from a session
        that has joined ``room`` and that no socket receives as its own."""
        session = SocketSession(sid=f"api-{uuid.uuid4().hex}",
                                identity=identity, address="api",
                                rooms={room})
        return await self.send(session, room, text, client_id)

    async def _resent(self, room: str, user_id: str,
                      client_id: str) -> dict[str, Any] | None:
        sent = await self._store.find_sent(room, user_id, client_id)
        return None if sent is None else {"message": sent, "duplicate": True}

    async def _refund(self, user_id: str) -> None:
        try:
            await self._limiter.refund(user_id)
        except Exception:
            log.exception("rate limit refund failed")

    async def history(self, session: SocketSession, room: str, limit: int,
                      before: int | None = None, after: int | None = None,
                      epoch: str | None = None) -> dict[str, Any]:
        """A page of a joined room's history, oldest first."""
        if room not in session.rooms:
            raise NotInRoom()
        return await self.read(room, limit, before, after, session.user_id,
                               epoch)

    async def read(self, room: str, limit: int, before: int | None = None,
                   after: int | None = None, viewer: str | None = None,
                   epoch: str | None = None) -> dict[str, Any]:
        """A page of any room's history, as ``history`` answers it;
        ``viewer`` is whose reactions count as "me". A ``before`` or
        ``after`` of another ``epoch`` gets the newest page, with a gap."""
        if after is not None:
            page = await self._store.after(room, after, limit, viewer)
        elif before is not None:
            page = await self._store.before(room, before, limit, viewer)
        else:
            page = await self._store.latest(room, limit, viewer)
        gap = page.gap
        if epoch is not None and epoch != page.epoch \
                and (after is not None or before is not None):
            page, gap = await self._store.latest(room, limit, viewer), True
        ack: dict[str, Any] = {"messages": page.messages, "more": page.more,
                               "epoch": page.epoch}
        if gap:
            ack["gap"] = True
        return ack

    async def position(self, room: str) -> tuple[str, int]:
        """The room's epoch and the ``seq`` of its latest message (0 when
        it has none), read together."""
        page = await self._store.latest(room, 0)
        return page.epoch, page.last_seq

    async def _notify(self, hook: str, session: SocketSession, room: str,
                      *args: Any) -> None:
        # Presence and typing are best effort: their failure must not fail
        # (or hide the outcome of) a join, leave or stored message.
        for listener in self._listeners:
            try:
                await getattr(listener, hook)(session, room, *args)
            except Exception:
                log.exception("%s listener failed", hook)
