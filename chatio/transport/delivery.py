"""Delivery to this node's sockets: each broadcast is built once.

``FrameDelivery`` replaces python-socketio's ``AsyncManager.emit``, which
creates one task per recipient and encodes per recipient. Here an emit
encodes the Socket.IO packet, the engine.io packet and the WebSocket frame
once, then walks the room handing the same bytes to each socket, with no
task and no await: every socket gets it before anything else can be sent,
so per-socket order is the order the node produced packets in.
Long-polling sockets get the engine.io packet in their queue.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import socketio
from engineio import packet as eio

from ..constants import VOLATILE_BUFFER_LIMIT
from ..metrics import Metrics
from . import wire
from .journal import DeliveryJournal
from .websocket import text_frame


class SendObserver(Protocol):
    """Hears what this node sent: ``args`` (event name first) to ``sids``."""

    def event_sent(self, namespace: str, args: list[Any],
                   sids: Iterable[str]) -> None: ...


class FrameDelivery(socketio.AsyncManager):
    """A client manager whose emits build one frame for all recipients.

    ``metrics`` counts deliveries and skipped volatile recipients;
    ``observer``, when set (the Admin UI), hears every delivery.
    """

    observer: SendObserver | None = None
    # Set when connection state recovery is on: stamps /chat messages.
    journal: DeliveryJournal | None = None

    def __init__(self, *args: Any, metrics: Metrics | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics if metrics is not None else Metrics()
        self._memberships: dict[tuple[str, str], set[Any]] = {}

    # -- membership ------------------------------------------------------
    # python-socketio finds a socket's rooms by scanning every room of the
    # namespace, so a disconnect costs O(rooms) and a storm of them
    # O(sockets * rooms). An index of each socket's rooms makes it O(its
    # rooms).

    def basic_enter_room(self, sid: str, namespace: str, room: Any,
                         eio_sid: str | None = None) -> None:
        opened = room != sid and room not in self.rooms.get(namespace, ())
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._memberships.setdefault((namespace, sid), set()).add(room)
        journal = self.journal
        if journal is not None and namespace == journal.namespace and \
                isinstance(room, str) and room != sid:
            journal.entered(sid, room)
        if opened:
            self.room_opened(namespace, room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        had = room != sid and room in self.rooms.get(namespace, ())
        super().basic_leave_room(sid, namespace, room)
        journal = self.journal
        if journal is not None and namespace == journal.namespace and \
                isinstance(room, str):
            journal.left(sid, room)
        rooms = self._memberships.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._memberships[(namespace, sid)]
        if had and room not in self.rooms.get(namespace, ()):
            self.room_closed(namespace, room)

    # Membership hooks: a cluster manager listens to a room's channel
    # exactly while the room has a member on this node. Sid rooms (each
    # socket's own) are not reported; ``room`` None is the whole namespace.

    def room_opened(self, namespace: str, room: Any) -> None:
        """The first socket of this node entered ``room``."""

    def room_closed(self, namespace: str, room: Any) -> None:
        """The last socket of this node left ``room``."""

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        for room in list(self._memberships.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        super().basic_disconnect(sid, namespace, **kwargs)
        # python-socketio skips this once the namespace's last room is gone,
        # which leaving the rooms first can cause: the sid would stay
        # "disconnecting" (and a recovered socket with it, not connected).
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    async def pre_connect_as(self, eio_sid: str, namespace: str,
                             sid: str) -> str | None:
        """``pre_connect`` with a given sid: a recovered socket's own.
        None when the connection already has a socket on ``namespace``
        or ``sid`` is taken."""
        connected = self.rooms.get(namespace, {}).get(None)
        if (connected is not None and sid in connected) or \
                self.sid_from_eio_sid(eio_sid, namespace) is not None:
            return None
        self.basic_enter_room(sid, namespace, None, eio_sid=eio_sid)
        self.basic_enter_room(sid, namespace, sid, eio_sid=eio_sid)
        self.pending_connect.setdefault(namespace, []).append(sid)
        return sid

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        return [room for room in self._memberships.get((namespace, sid), ())
                if room is not None]

    async def emit(self, event: str, data: Any, namespace: str,
                   room: Any = None, skip_sid: Any = None,
                   callback: Any = None, to: Any = None,
                   **kwargs: Any) -> None:
        room = to or room
        if callback is not None:
            await super().emit(event, data, namespace, room=room,
                               skip_sid=skip_sid, callback=callback, **kwargs)
            return
        self.deliver(event, data, namespace or "/", room, skip_sid)

    async def disconnect_user(self, user_id: str,
                              notice: dict[str, Any]) -> int:
        """Disconnect ``user_id``'s sockets (``ChatioServer.disconnect_user``);
        a cluster manager also tells the other nodes."""
        return await self.server.disconnect_local_user(user_id, notice)

    async def release_elsewhere(self, key: str) -> bool:
        """Ask the other nodes to end a socket whose recovery key is
        ``key``; False when there are none to ask."""
        return False

    async def emit_volatile(self, event: str, data: Any, namespace: str,
                            room: str, skip_sid: str | None = None) -> None:
        """Emit to ``room`` but skip sockets already falling behind: for
        state the next update supersedes."""
        self.deliver(event, data, namespace, room, skip_sid, volatile=True)

    def deliver(self, event: str, data: Any, namespace: str, room: Any,
                skip_sid: Any, volatile: bool = False) -> int:
        """Send ``event`` to this node's sockets in ``room`` (all of the
        namespace when None), but ``skip_sid``; returns how many got it."""
        members = self._members(namespace, room)
        if not members:
            return 0
        if isinstance(data, tuple):
            args = [event, *data]
        elif data is None:
            args = [event]
        else:
            args = [event, data]
        journal = self.journal
        offset = None
        if journal is not None and namespace == journal.namespace and \
                event == journal.event and isinstance(room, str):
            offset = journal.note(room, data, skip_sid)
            if offset is not None:
                args.append(offset)
        frame, pkt = _framed(namespace, args)
        # Built only if a recipient asked for messages without offsets.
        plain: tuple[bytes, eio.Packet] | None = None
        skip = _skipped(skip_sid)
        find = self.server.eio.sockets.get
        sent = lagging = 0
        # The hot loop: one dict lookup and one write per member.
        for sid, eio_sid in members:
            if skip and sid in skip:
                continue
            sock = find(eio_sid)
            if sock is None:
                continue
            if volatile and sock.lagging(VOLATILE_BUFFER_LIMIT):
                lagging += 1
                continue
            if offset is not None and sock.plain:
                if plain is None:
                    plain = _framed(namespace, args[:-1])
                sock.deliver(*plain)
            else:
                sock.deliver(frame, pkt)
            sent += 1
        if sent:
            self.metrics.delivered(namespace, sent)
        if lagging:
            self.metrics.volatile_skipped(namespace, lagging)
        if self.observer is not None and sent:
            self.observer.event_sent(namespace, args, [
                sid for sid, _ in members if sid not in skip])
        return sent

    def _members(self, namespace: str, room: Any) -> Any:
        rooms = self.rooms.get(namespace)
        if not rooms:
            return ()
        if room is None or isinstance(room, str):
            members = rooms.get(room)
            # Iterated live: delivering never awaits, and a socket dropped
            # during a write closes later, in a task of its own.
            return members.items() if members else ()
        merged: dict[str, str] = {}
        for name in room:
            if name in rooms:
                merged.update(rooms[name].items())
        return merged.items()


def _framed(namespace: str, args: list[Any]) -> tuple[bytes, eio.Packet]:
    text = wire.encode(wire.EVENT, namespace, args)
    return text_frame(b"4" + text.encode("utf-8")), eio.Packet(eio.MESSAGE, text)


def _skipped(skip_sid: Any) -> frozenset[str] | tuple[str, ...]:
    if skip_sid is None:
        return ()
    if isinstance(skip_sid, str):
        return (skip_sid,)
    return frozenset(skip_sid)
