"""``DeliveryJournal``: which /chat messages this node sent to whom, in
what order, so a dropped socket's record says what it may have missed.

Every ``message`` broadcast of /chat gets the next stamp of this node; its
offset (``<node tag>-<stamp in hex>``) rides on the event as a trailing
argument, which the stock Socket.IO clients keep as their last offset and
present when they reconnect. A socket receives its broadcasts in stamp
order, so the offset it presents says which of the deliveries made to it
arrived. The journal keeps each room's recent deliveries (stamp, seq and the
sender's sid, who gets no copy) for ``retention`` seconds, and each
socket's own stamps (when it entered a room, replays sent to it alone);
what a socket had confirmed by answering a ping needs no replay.
"""
from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ..recovery import RoomTrail

# (stamp, seq, sid that got no copy)
Delivery = tuple[int, int, Any]


class DeliveryJournal:
    """Stamps this node's deliveries of ``event`` on ``namespace``."""

    def __init__(self, namespace: str, event: str, retention: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.namespace = namespace
        self.event = event
        self.tag = secrets.token_hex(4)
        self.stamp = 0
        self._retention = retention
        self._clock = clock
        # room -> deliveries with the time they were made, oldest first
        self._rooms: dict[str, deque[tuple[int, int, Any, float]]] = {}
        # room -> (stamp, highest seq) of the deliveries forgotten
        self._forgotten: dict[str, tuple[int, int]] = {}
        # (sid, room) -> the stamp when the socket entered the room
        self._entered: dict[tuple[str, str], int] = {}
        # (sid, room) -> (stamp, seq) of replays sent to that socket alone
        self._direct: dict[tuple[str, str], list[tuple[int, int]]] = {}
        # (sid, room) -> stamps of room deliveries the socket did not get
        self._undelivered: dict[tuple[str, str], set[int]] = {}

    def offset(self, stamp: int) -> str:
        return f"{self.tag}-{stamp:x}"

    def note(self, room: str, data: Any, skip_sid: Any) -> str | None:
        """Stamp a broadcast of ``data`` (a message with a ``seq``) to
        ``room``; returns its offset, or None for anything else."""
        seq = data.get("seq") if isinstance(data, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool):
            return None
        self.stamp += 1
        now = self._clock()
        log = self._rooms.get(room)
        if log is None:
            log = self._rooms[room] = deque()
        log.append((self.stamp, seq, skip_sid, now))
        self._forget(room, log, now)
        return self.offset(self.stamp)

    def note_direct(self, sid: str, room: str, seq: int) -> str:
        """Stamp a replay of ``seq`` sent to ``sid`` alone."""
        self.stamp += 1
        self._direct.setdefault((sid, room), []).append((self.stamp, seq))
        return self.offset(self.stamp)

    def undelivered(self, sid: str, room: str, stamp: int) -> None:
        """The room's delivery ``stamp`` never reached ``sid`` as such (it
        was held during its recovery and sent again, or dropped)."""
        self._undelivered.setdefault((sid, room), set()).add(stamp)

    def entered(self, sid: str, room: str) -> None:
        self._entered[(sid, room)] = self.stamp

    def left(self, sid: str, room: str) -> None:
        self._entered.pop((sid, room), None)
        self._direct.pop((sid, room), None)
        self._undelivered.pop((sid, room), None)

    def trail(self, sid: str, room: str, base: int, have: Iterable[int],
              confirmed: int, epoch: str = "") -> RoomTrail | None:
        """What ``room`` sent ``sid``: it is known to have every seq up to
        ``base``, those in ``have``, and whatever was stamped up to
        ``confirmed``. None when deliveries it may have missed were
        forgotten."""
        entered = self._entered.get((sid, room))
        if entered is None:
            return None
        forgotten, forgotten_seq = self._forgotten.get(room, (0, 0))
        if forgotten > entered:
            if forgotten > confirmed:
                return None
            # Forgotten, but confirmed by a ping answered since.
            base = max(base, forgotten_seq)
        known = set(have)
        sent: list[tuple[int, int]] = []
        deliveries: list[tuple[int, int]] = []
        undelivered = self._undelivered.get((sid, room), ())
        for stamp, seq, skip, _ in self._rooms.get(room, ()):
            if stamp <= entered or stamp in undelivered:
                continue
            if skip == sid or (isinstance(skip, (set, frozenset, list, tuple))
                               and sid in skip):
                known.add(seq)  # its own message: the ack carried it
            else:
                deliveries.append((stamp, seq))
        deliveries.extend(s for s in self._direct.get((sid, room), ())
                          if s[0] > entered)
        for stamp, seq in deliveries:
            if stamp <= confirmed:
                known.add(seq)
            else:
                sent.append((stamp, seq))
        sent.sort()
        while base + 1 in known:
            base += 1
        return RoomTrail(base, sorted(s for s in known if s > base), sent,
                         epoch)

    def prune(self) -> None:
        """Forget deliveries older than the retention."""
        now = self._clock()
        for room, log in list(self._rooms.items()):
            self._forget(room, log, now)
            if not log:
                del self._rooms[room]

    def _forget(self, room: str, log: deque[tuple[int, int, Any, float]],
                now: float) -> None:
        horizon = now - self._retention
        while log and log[0][3] < horizon:
            stamp, seq, _, _ = log.popleft()
            highest = self._forgotten.get(room, (0, 0))[1]
            self._forgotten[room] = (stamp, max(seq, highest))


def parse_offset(offset: Any) -> tuple[str, int] | None:
    """``(node tag, stamp)`` of an offset string, else None."""
    if not isinstance(offset, str) or len(offset) > 40:
        return None
    tag, _, stamp = offset.partition("-")
    if not tag or not stamp or len(stamp) > 16:
        return None
    try:
        return tag, int(stamp, 16)
    except ValueError:
        return None
