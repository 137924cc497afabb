"""Connection state recovery on the wire, as socket.io-client 4.x speaks it.

The CONNECT reply carries ``{sid, pid}``. A client that lost its transport
reconnects with CONNECT data ``{pid, offset, ...auth}``; when the reply
carries the same pid, the client treats the socket as recovered: same sid,
same rooms, and the packets it missed arrive without it asking.

``Reconnections`` does the transport's part: it remembers which pid each
socket of this node has, turns a dropping socket into a ``SessionRecord``
(its rooms and, per /chat room, its trail in the ``DeliveryJournal``), and
brings a recovering socket back: its output is held while it re-enters its
rooms, then the missed messages go out (each with a fresh offset), then the
namespace's resynchronising events, then what was held (without the copies
it already has). The domain's part (keeping records, reading history) is
the ``Recovery`` service.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from engineio import packet as eio_packet

from .. import constants as c
from ..namespaces.base import EventNamespace
from ..recovery import SessionRecord
from ..services.session import SocketSession
from ..tokens import Identity
from . import wire
from .journal import DeliveryJournal, parse_offset

if TYPE_CHECKING:
    from .server import ChatioServer
    from .socket import ChatioSocket

log = logging.getLogger(__name__)

# How long, past the heartbeat, the journal keeps deliveries: a socket has
# answered a ping within the heartbeat, or it is dropped.
JOURNAL_MARGIN = 10.0
MAX_PID_CHARS = 64
# How long after a recovery a live copy of a replayed message is dropped.
SCREEN_SECONDS = 10.0
# How long a node waits for another node to hand over a record it was
# asked for, and how often it looks.
RELEASE_WAIT = 0.5
RELEASE_POLL = 0.05
# How long a reconnect waits for the end of its socket's old session.
RETIRE_WAIT = 5.0


class Recovery(Protocol):
    """Keeps records of dropped sockets and finds what they missed
    (``chatio.services.recovery.SessionRecovery``)."""

    def new_pid(self) -> str: ...

    def key(self, pid: str) -> str: ...

    async def suspend(self, pid: str, record: SessionRecord) -> bool: ...

    async def claim(self, pid: str, namespace: str,
                    user_id: str) -> SessionRecord | None: ...

    async def missed(self, record: SessionRecord, stamp: int | None,
                     after: dict[str, int] | None = None
                     ) -> dict[str, list[dict[str, Any]]] | None: ...


def split_connect_data(data: Any) -> tuple[Any, str | None, Any]:
    """``(auth, pid, offset)`` from a CONNECT's data."""
    if not isinstance(data, dict) or "pid" not in data:
        return data, None, None
    auth = {k: v for k, v in data.items() if k not in ("pid", "offset")}
    pid = data.get("pid")
    if not isinstance(pid, str) or not 0 < len(pid) <= MAX_PID_CHARS:
        pid = None
    return auth or None, pid, data.get("offset")


class Reconnections:
    """The recovery half of ``ChatioServer``'s connect and disconnect."""

    def __init__(self, server: ChatioServer, recovery: Recovery,
                 journal: DeliveryJournal) -> None:
        self._server = server
        self._recovery = recovery
        self.journal = journal
        # key of the pid -> (namespace, sid) of this node's live sockets
        self._live: dict[str, tuple[str, str]] = {}

    def issue(self, session: SocketSession, namespace: str) -> str:
        """Give a new socket its pid."""
        pid = self._recovery.new_pid()
        session.pid = pid
        self._live[self._recovery.key(pid)] = (namespace, session.sid)
        return pid

    def forget(self, session: SocketSession | None) -> None:
        """The socket ends on purpose: it will leave no record."""
        if session is not None and session.pid is not None:
            self._live.pop(self._recovery.key(session.pid), None)
            session.pid = None

    async def claim(self, pid: str, namespace: str,
                    user_id: str) -> SessionRecord | None:
        """The record of ``pid``. A socket still holding it (its connection
        died unnoticed) is ended first, to leave one: at once on this node;
        on another node of a cluster, which is asked to, the record is
        waited for a little."""
        key = self._recovery.key(pid)
        live = self._live.get(key)
        if live is not None:
            await self._retire(*live)
        record = await self._recovery.claim(pid, namespace, user_id)
        if record is not None or live is not None or \
                not await self._server.manager.release_elsewhere(key):
            return record
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RELEASE_WAIT
        while record is None and loop.time() < deadline:
            await asyncio.sleep(RELEASE_POLL)
            record = await self._recovery.claim(pid, namespace, user_id)
        return record

    def release(self, key: str) -> None:
        """Another node was presented the pid with ``key``: if a socket of
        this node still holds it, end it so that it leaves its record."""
        live = self._live.get(key)
        if live is not None:
            self._server.eio.run_soon(self._retire(*live))

    async def _retire(self, namespace: str, sid: str) -> None:
        server = self._server
        eio_sid = server.manager.eio_sid_from_sid(sid, namespace)
        sock = server.eio.sockets.get(eio_sid) if eio_sid else None
        if sock is None:
            return
        if sock.closing or sock.closed:
            # Its end is under way: wait for the record it leaves.
            try:
                await asyncio.wait_for(sock.wait_ended(), RETIRE_WAIT)
            except asyncio.TimeoutError:
                log.warning("a dropped socket took long to end",
                            extra={"fields": {"sid": sid}})
            return
        for conn in (sock.ws, sock._probe):
            if conn is not None:
                conn.abort()
        await sock.close(wait=False, abort=True,
                         reason=server.reason.TRANSPORT_CLOSE)

    async def suspend(self, handler: EventNamespace, sid: str,
                      sock: ChatioSocket | None) -> None:
        """Leave a record for a socket whose transport dropped."""
        session = handler.sessions.get(sid)
        pid = session.pid if session is not None else None
        if session is None or pid is None:
            return
        self.forget(session)
        confirmed = sock.confirmed_stamp if sock is not None else 0
        trails = {}
        for room in session.rooms:
            position = session.positions.get(room)
            if position is None:
                continue
            base, have, epoch = position
            trail = self.journal.trail(sid, room, base, have, confirmed,
                                       epoch)
            if trail is None:
                log.info("not recoverable: deliveries forgotten",
                         extra={"fields": {"sid": sid, "room": room}})
                return
            trails[room] = trail
        await self._recovery.suspend(pid, SessionRecord(
            namespace=handler.namespace, sid=sid, user_id=session.user_id,
            node=self.journal.tag, rooms=sorted(session.rooms),
            trails=trails))

    async def resume(self, eio_sid: str, handler: EventNamespace,
                     identity: Identity, address: str, pid: str,
                     record: SessionRecord, offset: Any) -> bool:
        """Bring ``record``'s socket back on connection ``eio_sid``; False
        when it cannot be (the caller starts a new session)."""
        server = self._server
        namespace = handler.namespace
        sock = server.eio.sockets.get(eio_sid)
        parsed = parse_offset(offset)
        stamp = parsed[1] if parsed and parsed[0] == record.node else None
        missed = await self._recovery.missed(record, stamp)
        if sock is None or missed is None:
            return False
        sid = await server.manager.pre_connect_as(eio_sid, namespace,
                                                  record.sid)
        if sid is None:
            return False
        sock.hold()
        skip: set[tuple[str, int]] = set()
        abandoned = False
        try:
            session = await handler.open_session(sid, identity, address,
                                                 recovered=True)
            session.pid = pid
            self._live[self._recovery.key(pid)] = (namespace, sid)
            try:
                resync = await handler.restore(session, record.rooms)
            except Exception as exc:
                # A room not heard (Redis is failing) would miss messages:
                # the socket starts a new session instead, and catches up
                # with ``since`` as after any other reconnect.
                log.warning("recovery abandoned: a room could not be "
                            "restored", extra={"fields": {
                                "sid": sid, "error": f"{type(exc).__name__}: {exc}"}})
                abandoned = True
                await self._abandon(handler, session, pid)
                return False
            # What was stored between the first read and entering the rooms.
            latest = {room: messages[-1]["seq"]
                      for room, messages in missed.items() if messages}
            later = await self._recovery.missed(record, stamp, latest)
            if later is None:
                # Messages stored in that short while (the live ones from
                # now on are held) are left to the client's gap check.
                log.warning("a recovered socket's second history read "
                            "failed", extra={"fields": {"sid": sid}})
            for room, messages in (later or {}).items():
                missed.setdefault(room, []).extend(messages)
            sock.send_direct(_packet(wire.CONNECT, namespace,
                                     {"sid": sid, "pid": pid}))
            await server.manager.connect(sid, namespace)
            for room, trail in record.trails.items():
                if room not in session.rooms:
                    continue
                have = trail.received(stamp)
                skip.update((room, seq) for seq in have)
                session.positions[room] = (trail.base, tuple(sorted(have)),
                                           trail.epoch)
                for message in missed.get(room, ()):
                    seq = message["seq"]
                    skip.add((room, seq))
                    sock.send_direct(self._message(sid, room, message,
                                                   namespace))
            for event, payload in resync:
                sock.send_direct(_event(namespace, [event, payload]))
        finally:
            if abandoned:
                sock.release(lambda pkt: _namespace_of(pkt) != namespace)
            else:
                sock.release(lambda pkt: self._keep_held(pkt, sid, namespace,
                                                         skip, sock))
        # A message stored before the replay read it may still be on its
        # way to the room (from this node or another): that copy is dropped.
        sock.screen(lambda pkt: self._new_to(pkt, sid, namespace, skip),
                    SCREEN_SECONDS)
        server.metrics.recovered(namespace)
        return True

    async def _abandon(self, handler: EventNamespace, session: SocketSession,
                       pid: str) -> None:
        """Undo a recovery half done: the socket leaves what it re-entered
        as if it had dropped again (presence's grace covers the new
        session), and nothing of it stays on this node."""
        self._live.pop(self._recovery.key(pid), None)
        session.pid = None
        await handler.disconnect(session.sid, "recovery abandoned")
        self._server.manager.basic_disconnect(session.sid, handler.namespace)

    def _message(self, sid: str, room: str, message: dict[str, Any],
                 namespace: str) -> eio_packet.Packet:
        offset = self.journal.note_direct(sid, room, message["seq"])
        return _event(namespace, [c.EVENT_MESSAGE, message, offset])

    def _keep_held(self, pkt: eio_packet.Packet, sid: str, namespace: str,
                   skip: set[tuple[str, int]], sock: ChatioSocket) -> bool:
        # A held /chat message: dropped when the socket has it, otherwise
        # sent with a fresh offset, so the socket's offsets stay in the
        # order it receives them.
        message = self._chat_message(pkt, namespace)
        if message is None:
            return True
        room, seq, stamp = message[1]["room"], message[1]["seq"], message[2]
        if stamp is not None:
            self.journal.undelivered(sid, room, stamp)
        if (room, seq) not in skip:
            skip.add((room, seq))
            sock.send_direct(self._message(sid, room, message[1], namespace))
        return False

    def _new_to(self, pkt: eio_packet.Packet, sid: str, namespace: str,
                skip: set[tuple[str, int]]) -> bool:
        message = self._chat_message(pkt, namespace)
        if message is None:
            return True
        room, seq, stamp = message[1]["room"], message[1]["seq"], message[2]
        if (room, seq) not in skip:
            return True
        if stamp is not None:
            self.journal.undelivered(sid, room, stamp)
        return False

    def _chat_message(self, pkt: eio_packet.Packet, namespace: str
                      ) -> tuple[str, dict[str, Any], int | None] | None:
        """A /chat ``message`` event: (room, message, this node's stamp)."""
        text = pkt.data if pkt.packet_type == eio_packet.MESSAGE else None
        if not isinstance(text, str) or not text.startswith(f"2{namespace},"):
            return None
        try:
            args = wire.decode(text).data
        except wire.ProtocolError:
            return None
        if not (isinstance(args, list) and len(args) == 3
                and args[0] == c.EVENT_MESSAGE and isinstance(args[1], dict)):
            return None
        message = args[1]
        if not isinstance(message.get("room"), str) or \
                not isinstance(message.get("seq"), int):
            return None
        parsed = parse_offset(args[2])
        stamp = parsed[1] if parsed and parsed[0] == self.journal.tag else None
        return message["room"], message, stamp


def _namespace_of(pkt: eio_packet.Packet) -> str | None:
    """The namespace a Socket.IO packet in ``pkt`` is for."""
    text = pkt.data if pkt.packet_type == eio_packet.MESSAGE else None
    if not isinstance(text, str) or len(text) < 2 or text[1] != "/":
        return "/" if isinstance(text, str) else None
    return text[1:].split(",", 1)[0]


def _packet(kind: int, namespace: str, data: Any) -> eio_packet.Packet:
    return eio_packet.Packet(eio_packet.MESSAGE, wire.encode(
        kind, namespace, data))


def _event(namespace: str, args: list[Any]) -> eio_packet.Packet:
    return _packet(wire.EVENT, namespace, args)
