"""What a dropped socket leaves behind for its recovery."""
from __future__ import annotations

import dataclasses
import json
from typing import Any


@dataclasses.dataclass
class RoomTrail:
    """What one /chat room sent a socket: every ``seq`` up to ``base`` and
    those in ``confirmed`` are known to need no replay (the client has them,
    or they were its own messages); ``sent`` holds ``(stamp, seq)`` of the
    deliveries not yet confirmed, stamped by the node that made them."""

    base: int
    confirmed: list[int] = dataclasses.field(default_factory=list)
    sent: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    # The room history's epoch those seqs belong to ("": unknown).
    epoch: str = ""

    def received(self, upto_stamp: int | None) -> set[int]:
        """The seqs above ``base`` the client has, if the last delivery it
        saw was stamped ``upto_stamp`` (None: it saw none of ``sent``)."""
        have = set(self.confirmed)
        if upto_stamp is not None:
            have.update(seq for stamp, seq in self.sent if stamp <= upto_stamp)
        return have


@dataclasses.dataclass
class SessionRecord:
    """A dropped socket: ``node`` is the tag of the node whose stamps its
    trails carry."""

    namespace: str
    sid: str
    user_id: str
    node: str
    rooms: list[str]
    trails: dict[str, RoomTrail] = dataclasses.field(default_factory=dict)

    def encode(self) -> str:
        return json.dumps({
            "namespace": self.namespace, "sid": self.sid,
            "user": self.user_id, "node": self.node, "rooms": self.rooms,
            "trails": {room: [t.base, t.confirmed, t.sent, t.epoch]
                       for room, t in self.trails.items()},
        }, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> SessionRecord:
        """The record ``encode`` wrote; ``ValueError`` for anything else."""
        try:
            raw: Any = json.loads(text)
            trails = {
                str(room): RoomTrail(
                    int(base), [int(seq) for seq in confirmed],
                    [(int(stamp), int(seq)) for stamp, seq in sent],
                    str(epoch))
                for room, (base, confirmed, sent, epoch)
                in raw["trails"].items()}
            return cls(namespace=str(raw["namespace"]), sid=str(raw["sid"]),
                       user_id=str(raw["user"]), node=str(raw["node"]),
                       rooms=[str(room) for room in raw["rooms"]],
                       trails=trails)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a session record: {exc}") from None
