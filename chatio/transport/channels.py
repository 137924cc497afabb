"""Names of the Redis pub/sub channels a cluster routes emits over.

Every channel is a shard channel (``SSUBSCRIBE``/``SPUBLISH``). A room's
channel carries the room name as its Redis Cluster hash tag, so a room's
traffic goes through the shard that owns the room's slot (the slot of its
history keys too).

* ``room(namespace, room)``: emits to one room of one namespace; ``room``
  None is the whole namespace. A node listens while it has a member.
* ``node(host_id)``: what is addressed to one node (acks of its sockets,
  replies to its Admin UI sockets). Each node listens to its own.
* ``everyone``: what every node must see (disconnects by sid or user,
  Admin UI sync, emits to several rooms at once). Rare by design.
"""
from __future__ import annotations


class ChannelNames:
    """The channels under ``base`` (``<CHATIO_REDIS_PREFIX>:socketio``)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.everyone = f"{base}:all"
        self._room_prefix = f"{base}:room:"

    def room(self, namespace: str, room: str | None) -> str:
        """The channel of ``room`` in ``namespace`` (None: all of it)."""
        if room is None:
            return f"{self._room_prefix}{namespace}:*{{{namespace}}}"
        return f"{self._room_prefix}{namespace}:{{{room}}}"

    def node(self, host_id: str) -> str:
        """The channel of the node whose manager has ``host_id``."""
        return f"{self.base}:node:{{{host_id}}}"
