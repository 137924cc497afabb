"""The fan-out seam: every emit to more than one socket goes through here.

Services see only the ``Fanout`` protocol; ``chatio.transport`` implements
it, so the delivery path can change without touching them.
"""
from __future__ import annotations

from typing import Any, Protocol


class Fanout(Protocol):
    """Room membership and delivery for one namespace.

    ``enter`` returns once the socket hears the room, on every node: in a
    cluster, once Redis confirmed the node's subscription to it. It raises
    ``errors.Unavailable`` when that cannot be confirmed in time; the
    socket is in the room all the same and hears it once Redis answers.
    """

    async def enter(self, sid: str, room: str) -> None: ...

    async def leave(self, sid: str, room: str) -> None: ...

    async def broadcast(self, event: str, data: Any, room: str,
                        skip_sid: str | None = None) -> None:
        """Deliver ``event`` to every socket in ``room`` but ``skip_sid``."""

    async def broadcast_volatile(self, event: str, data: Any, room: str,
                                 skip_sid: str | None = None) -> None:
        """Like ``broadcast``, but skip recipients that are falling behind:
        for ephemeral state that the next update supersedes."""
